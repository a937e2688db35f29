"""Perturbation of numeric values (requirement 19): keyed noise, microaggregation, rank swapping.

Randomness comes from a keyed hash of a stable row identity, never from `rand()`: a rerun with
the same key and seed gives the same release, and nobody without the key can recompute the noise
to subtract it. Microaggregation and rank swapping work on the histogram of distinct values
(a small summary collected to the driver); the records stay in Spark.
"""

from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from transforms.columns.pseudonym import KeyPads, hmac_sha256_hex
from transforms.local import local_frame

_2_52 = float(2**52)


def keyed_uniforms(row_id: Column, key: KeyPads, salt: str) -> tuple[Column, Column]:
    """Two independent uniforms in (0, 1) from HMAC(key, salt + row id): 52 bits each."""
    h = hmac_sha256_hex(F.concat(F.lit(salt + "\u001f"), row_id.cast("string")), key)
    u1 = (F.conv(F.substring(h, 1, 13), 16, 10).cast("double") + 0.5) / _2_52
    u2 = (F.conv(F.substring(h, 14, 13), 16, 10).cast("double") + 0.5) / _2_52
    return u1, u2


def add_noise(col: Column, row_id: Column, key: KeyPads, scale: float, distribution: str = "laplace", seed: int = 0) -> Column:
    """col + Laplace(0, scale) or + Normal(0, scale) noise; null stays null."""
    if scale <= 0:
        raise ValueError("scale must be > 0")
    u1, u2 = keyed_uniforms(row_id, key, f"noise:{seed}")
    if distribution == "laplace":
        c = u1 - 0.5
        noise = -F.lit(scale) * F.signum(c) * F.log(1 - 2 * F.abs(c))
    elif distribution == "gaussian":
        noise = F.lit(scale) * F.sqrt(-2 * F.log(u1)) * F.cos(2 * math.pi * u2)
    else:
        raise ValueError("distribution: use laplace or gaussian")
    return F.when(col.isNotNull(), col.cast("double") + noise)


def _histogram(df: DataFrame, column: str, max_distinct: int) -> list[tuple[float, int]]:
    hist = df.where(F.col(column).isNotNull()).groupBy(F.col(column).cast("double").alias("v")).count()
    rows = hist.orderBy("v").limit(max_distinct + 1).collect()
    if len(rows) > max_distinct:
        raise ValueError(f"{column}: more than {max_distinct} distinct values; round or bin it first")
    return [(float(r["v"]), int(r["count"])) for r in rows]


def microaggregation_groups(hist: list[tuple[float, int]], k: int) -> dict[float, float]:
    """Consecutive sorted values grouped until each group holds >= k records (equal values stay
    together); a short last group joins the one before. Returns value -> group mean."""
    groups: list[list[tuple[float, int]]] = []
    current: list[tuple[float, int]] = []
    for v, n in hist:
        current.append((v, n))
        if sum(c for _, c in current) >= k:
            groups.append(current)
            current = []
    if current:
        if groups:
            groups[-1].extend(current)
        else:
            groups.append(current)
    out = {}
    for g in groups:
        mean = sum(v * n for v, n in g) / sum(n for _, n in g)
        out.update({v: mean for v, _ in g})
    return out


def microaggregate(df: DataFrame, column: str, out: str, k: int, max_distinct: int = 1_000_000) -> DataFrame:
    """Univariate microaggregation: `out` = the mean of the value's group of >= k records."""
    if k < 2:
        raise ValueError("k must be >= 2")
    means = microaggregation_groups(_histogram(df, column, max_distinct), k)
    lookup = local_frame(df.sparkSession, sorted(means.items()), "__v double, __mean double")
    joined = df.join(F.broadcast(lookup), F.col(column).cast("double") == F.col("__v"), "left")
    return joined.withColumn(out, F.col("__mean")).drop("__v", "__mean")


def rank_swap(
    df: DataFrame, column: str, out: str, row_id: Column, key: KeyPads, p: float, seed: int = 0, max_distinct: int = 1_000_000
) -> DataFrame:
    """Rank swapping within p%: records sorted by value are cut into blocks of w = p% of n ranks and
    the values are permuted at random inside each block, so no value moves more than p% of the
    ranks and the column's distribution is exactly preserved. Nulls stay null."""
    if not 0 < p <= 100:
        raise ValueError("p must be in (0, 100]")
    hist = _histogram(df, column, max_distinct)
    n = sum(c for _, c in hist)
    w = max(1, int(n * p / 100))
    offsets, running = [], 0
    for v, c in hist:
        offsets.append((v, running))
        running += c
    spark = df.sparkSession
    lookup = local_frame(spark, offsets, "__v double, __offset long")
    u_tie, u_pos = keyed_uniforms(row_id, key, f"swap:{seed}")
    ranked = (
        df.withColumn("__row", row_id.cast("string"))
        .withColumn("__v", F.col(column).cast("double"))
        .join(F.broadcast(lookup), "__v", "left")
        .withColumn("__tie", u_tie)
        .withColumn("__pos_key", u_pos)
        .withColumn("__rank", F.col("__offset") + F.row_number().over(Window.partitionBy("__v").orderBy("__tie", "__row")) - 1)
        .withColumn("__block", F.floor(F.col("__rank") / w))
    )
    valued = ranked.where(F.col("__v").isNotNull())
    slots = valued.select("__block", (F.col("__rank") - F.col("__block") * w).alias("__slot"), F.col(column).alias("__new"))
    shuffled = valued.withColumn(
        "__slot", F.row_number().over(Window.partitionBy("__block").orderBy("__pos_key", "__row")) - 1
    ).join(slots, ["__block", "__slot"], "inner")
    nulls = ranked.where(F.col("__v").isNull()).withColumn("__new", F.lit(None).cast(df.schema[column].dataType))
    cols = [*df.columns, "__new"]
    return shuffled.select(*cols).unionByName(nulls.select(*cols)).withColumnRenamed("__new", out)
