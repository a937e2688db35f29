"""`tokumei generate` refuses bad arguments with exit 2 before Spark starts."""

from jobs.generate import main


def test_bad_arguments_exit_2_before_spark(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "a"), "--patients", "0"]) == 2
    assert "--patients 0" in capsys.readouterr().err
    assert main(["--out", str(tmp_path / "b"), "--start-month", "2025-13"]) == 2
    assert "--start-month" in capsys.readouterr().err
    (tmp_path / "c" / "uke").mkdir(parents=True)
    assert main(["--out", str(tmp_path / "c")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
