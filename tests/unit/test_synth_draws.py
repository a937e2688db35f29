"""synth/draws.py in plain Python: the check digit of the generator and its SQL literals."""

import pytest

from synth.draws import check_digit_py, sql_literal


def test_check_digit_rejects_a_wrong_number():
    # 83136019 in the sample file does not satisfy the rule (its check digit would be 0).
    assert check_digit_py("8313601") == "0"
    assert check_digit_py("0113001") != "3"


def test_sql_literal_quotes_and_types():
    assert sql_literal(["a'b", 1, 2.5, True, {"k": "東京"}]) == "array('a\\'b', 1, 2.5D, true, named_struct('k', '東京'))"
    with pytest.raises(TypeError):
        sql_literal(object())
