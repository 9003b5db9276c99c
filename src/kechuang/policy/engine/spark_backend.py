"""Spark SQL backend: the same SELECT as the SQL backend, rendered by sqlglot for the ``spark`` dialect and
run by Spark (PySpark, optional extra ``spark``) — for facts that outgrow one machine. Here it runs in local
mode with one shared, small session (``local[2]``, no UI, 2 shuffle partitions); set ``KECHUANG_SPARK_MASTER``
to point it at a cluster.

Facts go in and results come out through Arrow; a row number keeps the input order (Spark does not).
ANSI mode stays on: an integer overflow is an error, never a silently wrapped amount.
"""

from __future__ import annotations

import os
import threading

import polars as pl

from kechuang.policy.engine.core import Core
from kechuang.policy.engine.sql_backend import _fix_types, render_select

_LOCK = threading.Lock()
_SESSION = None
ROW = "__row"


def available() -> bool:
    """Whether PySpark and a Java runtime are installed."""
    import shutil

    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return bool(os.environ.get("JAVA_HOME") or shutil.which("java"))


def session():
    """The process's Spark session (created on first use, reused after)."""
    global _SESSION
    with _LOCK:
        if _SESSION is None:
            from pyspark.sql import SparkSession

            master = os.environ.get("KECHUANG_SPARK_MASTER", "local[2]")
            builder = SparkSession.builder.master(master).appName("kechuang-policy")
            if master.startswith("local"):
                # A short-lived local JVM: quick JIT warm-up and a small serial GC matter more than peak speed.
                builder = builder.config("spark.driver.extraJavaOptions", os.environ.get(
                    "KECHUANG_SPARK_JAVA_OPTIONS", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss4m"))
            _SESSION = (builder
                        .config("spark.ui.enabled", "false")
                        .config("spark.sql.shuffle.partitions", "2")
                        .config("spark.default.parallelism", "2")
                        .config("spark.driver.memory", os.environ.get("KECHUANG_SPARK_DRIVER_MEMORY", "1g"))
                        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                        .config("spark.sql.session.timeZone", "UTC")
                        .config("spark.sql.ansi.enabled", "true")
                        .config("spark.ui.showConsoleProgress", "false")
                        .getOrCreate())
            _SESSION.sparkContext.setLogLevel("ERROR")
        return _SESSION


def stop() -> None:
    """Stop the shared session (tests, end of a batch)."""
    global _SESSION
    with _LOCK:
        if _SESSION is not None:
            _SESSION.stop()
            _SESSION = None


def run(frame: pl.DataFrame, outputs: dict[str, Core]) -> pl.DataFrame:
    """Every output column over every row of ``frame``, computed by Spark SQL; input row order kept."""
    spark = session()
    names = list(outputs)
    aliased = {f"c{i}": outputs[n] for i, n in enumerate(names)}  # Spark column names stay plain
    src = frame.with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))
    view = f"facts_{os.getpid()}_{threading.get_ident()}"
    df = spark.createDataFrame(src.to_arrow())
    df.createOrReplaceTempView(view)
    try:
        sql = render_select(aliased, view, "spark", keep=(ROW,))
        table = spark.sql(sql).toArrow()
    finally:
        spark.catalog.dropTempView(view)
    out = pl.from_arrow(table, rechunk=False)
    assert isinstance(out, pl.DataFrame)
    out = out.sort(ROW).drop(ROW).rename({f"c{i}": n for i, n in enumerate(names)})
    return _fix_types(out, outputs)
