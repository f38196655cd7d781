"""The CPI Manual chapter 19 artificial data set, read from the copy in tests/insights/data (or ../shared)."""

import csv
from decimal import Decimal
from pathlib import Path

import pytest

LOCAL_DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "price-index"
DATA_FILE = "cpi-manual-ch19-artificial-data.csv"
EXPECTED_FILE = "cpi-manual-ch19-fixed-base-expected.csv"


def data_path(name: str) -> Path:
    local = LOCAL_DATA / name
    return local if local.exists() else SHARED_DATA / name


def read_ch19():
    """``{product: {period: (price, quantity)}}`` as Decimals, exactly as in the file."""
    table: dict[str, dict[int, tuple[Decimal, Decimal]]] = {}
    with data_path(DATA_FILE).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            table.setdefault(row["product"], {})[int(row["period"])] = (
                Decimal(row["price"]),
                Decimal(row["quantity"]),
            )
    return table


def read_expected():
    """``{formula: {period: Decimal}}`` from the manual's fixed-base table."""
    out: dict[str, dict[int, Decimal]] = {}
    with data_path(EXPECTED_FILE).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out[row["formula"]] = {int(k[1:]): Decimal(v) for k, v in row.items() if k.startswith("t")}
    return out


@pytest.fixture(scope="session")
def ch19():
    return read_ch19()


@pytest.fixture(scope="session")
def ch19_observations(ch19):
    from chanlian.insights.priceindex import Observation

    return [
        Observation(product, period, price, quantity)
        for product, series in ch19.items()
        for period, (price, quantity) in series.items()
    ]


@pytest.fixture(scope="session")
def ch19_basket(ch19):
    return dict.fromkeys(ch19, Decimal(1))
