"""The steps around the formulas: inputs, outliers, elementary aggregates, imputation, "no data",
base = 100, chain-linking, period labels, and immutable releases with revisions."""

import dataclasses
import json
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from chanlian.insights.priceindex import (
    PLATFORM_DEFAULT,
    Elementary,
    Formula,
    Imputation,
    IndexMethod,
    NoData,
    NoDataError,
    Observation,
    ObservationTable,
    OutlierRule,
    Weighting,
    chain_link,
    compute_index,
    make_release,
    period_label,
    rebase,
)

D = Decimal
NOW = datetime(2024, 4, 1, 9, 0, tzinfo=UTC)


def obs(item, period, price, quantity=None, recorded_at=None):
    return Observation(
        item, period, D(str(price)), None if quantity is None else D(str(quantity)), recorded_at
    )


# -- inputs ----------------------------------------------------------------------------------------------


def test_prices_are_never_floats():
    with pytest.raises(TypeError, match="never a float"):
        Observation("tomato", 1, 2.7)
    with pytest.raises(ValueError, match="positive"):
        Observation("tomato", 1, D("0"))
    with pytest.raises(ValueError, match="positive"):
        Observation("tomato", 1, D("2.7"), D("-1"))
    assert Observation("tomato", 1, 3).price == 3


@pytest.mark.parametrize(
    "basket", [{}, {"a": 0}, {"a": -1}, {"a": "1"}, {"": 1}, {"a": float("nan")}, ["a"]], ids=repr
)
def test_bad_baskets_are_refused(basket):
    with pytest.raises(ValueError, match="basket"):
        compute_index([obs("a", 1, 1)], basket)


def test_method_settings_are_checked():
    with pytest.raises(ValueError, match="transitive"):
        IndexMethod(formula="geks", chained=True)
    with pytest.raises(ValueError, match="GEKS formula only"):
        IndexMethod(formula="fisher", geks_window=3)
    with pytest.raises(ValueError, match="at least 2"):
        IndexMethod(formula="geks", geks_window=1)
    with pytest.raises(ValueError):
        IndexMethod(formula="carli")
    with pytest.raises(ValueError, match="greater than 1"):
        OutlierRule(k=1)
    with pytest.raises(ValueError, match="at least 3"):
        OutlierRule(min_observations=2)
    assert IndexMethod(formula="fisher").formula is Formula.FISHER


def test_method_version_names_every_setting():
    assert PLATFORM_DEFAULT.version == (
        "chanlian-price-index/1.0; elementary=jevons; outliers=median-ratio(k=3,min_n=3); "
        "imputation=class_mean; weights=basket; formula=laspeyres; fixed-base"
    )
    geks = IndexMethod(formula="geks", weighting="traded", geks_window=13, outliers=None)
    assert "window=13,splice=movement" in geks.version and "outliers=none" in geks.version


def test_traded_weights_and_unit_values_need_quantities():
    quotes = [obs("a", 1, 2), obs("a", 2, 3)]
    with pytest.raises(ValueError, match="need quantities"):
        compute_index(quotes, {"a": 1}, method=IndexMethod(weighting="traded"))
    with pytest.raises(ValueError, match="need quantities"):
        compute_index(quotes, {"a": 1}, method=IndexMethod(elementary="unit_value"))
    assert compute_index(quotes, {"a": 1}).value(2) == pytest.approx(1.5)


def test_observations_outside_the_basket_or_periods_are_ignored_and_counted():
    data = [obs("a", 1, 2), obs("a", 2, 3), obs("zzz", 2, 100), obs("a", 9, 50)]
    result = compute_index(data, {"a": 1}, periods=[1, 2])
    assert result.ignored_observations == 2
    assert dict(result.values) == {1: 1.0, 2: 1.5}


def test_periods_must_be_in_order():
    with pytest.raises(ValueError, match="time order"):
        compute_index([obs("a", 1, 2)], {"a": 1}, periods=[2, 1])
    with pytest.raises(ValueError, match="not one of the periods"):
        compute_index([obs("a", 1, 2)], {"a": 1}, base_period=7)


# -- no data ---------------------------------------------------------------------------------------------


def test_a_period_without_observations_is_no_data_never_zero():
    data = [
        obs("a", 1, 2),
        obs("b", 1, 4),
        obs("a", 2, 2.2),
        obs("b", 2, 4.4),
        obs("a", 4, 2.4),
        obs("b", 4, 4.8),
    ]
    result = compute_index(data, {"a": 1, "b": 1}, periods=[1, 2, 3, 4])
    assert result.values[3] == NoData(3)
    assert isinstance(result.values[3], NoData) and not result.values[3]
    with pytest.raises(NoDataError) as exc:
        result.value(3)
    assert exc.value.period == 3 and exc.value.code == "no_data"
    with pytest.raises(TypeError):
        result.values[3] * 100  # arithmetic on "no data" fails loudly
    assert result.value(4) == pytest.approx(1.2)
    assert result.data_periods == (1, 2, 4)
    assert 3 not in result.changes
    assert result.changes[4].previous == 2  # the change since the last period with data
    assert result.changes[4].change == pytest.approx(1.2 / 1.1 - 1)
    assert isinstance(result.rebased()[3], NoData)
    with pytest.raises(KeyError):
        result.value(5)


def test_no_data_anywhere_or_at_the_base_raises():
    with pytest.raises(NoDataError, match="no_observations_in_any_period"):
        compute_index([], {"a": 1}, periods=[1, 2])
    with pytest.raises(NoDataError, match="base_period_without_data"):
        compute_index([obs("a", 2, 1)], {"a": 1}, periods=[1, 2], base_period=1)
    with pytest.raises(NoDataError):
        compute_index([obs("other", 1, 1)], {"a": 1})


# -- outliers --------------------------------------------------------------------------------------------


def test_outliers_beyond_k_times_the_cell_median_are_excluded_and_reported():
    data = [obs("a", 1, p) for p in (10, 10.5, 9.8)] + [obs("a", 2, p) for p in (11, 10.9, 11.2, 110)]
    result = compute_index(data, {"a": 1})
    [out] = result.outliers
    assert (out.row, out.item, out.period, out.price) == (6, "a", 2, 110.0)
    assert out.median == pytest.approx(11.1) and out.rule == "median-ratio(k=3,min_n=3)"
    expected = math.prod([11, 10.9, 11.2]) ** (1 / 3) / math.prod([10, 10.5, 9.8]) ** (1 / 3)
    assert result.value(2) == pytest.approx(expected, rel=1e-12)
    # k is configurable; None switches the rule off
    assert compute_index(data, {"a": 1}, method=IndexMethod(outliers=OutlierRule(k=20))).outliers == ()
    assert compute_index(data, {"a": 1}, method=IndexMethod(outliers=None)).outliers == ()


def test_outlier_rule_bounds_are_inclusive_and_small_cells_untouched():
    at_bound = [obs("a", 1, p) for p in (1, 1, 3)]  # median 1, 3 = median·k: kept
    assert compute_index(at_bound, {"a": 1}).outliers == ()
    low = [obs("a", 1, p) for p in (0.3, 1, 1)]  # 0.3 < 1/3: excluded
    assert [o.price for o in compute_index(low, {"a": 1}).outliers] == [0.3]
    pair = [obs("a", 1, 1), obs("a", 1, 100)]  # the median of two says nothing: no exclusion
    assert compute_index(pair, {"a": 1}).outliers == ()
    four = [obs("a", 1, p) for p in (1, 1, 1, 100)]
    rule = OutlierRule(k=3, min_observations=5)
    assert compute_index(four, {"a": 1}, method=IndexMethod(outliers=rule)).outliers == ()


# -- elementary aggregates -------------------------------------------------------------------------------


def test_jevons_and_unit_value_cells():
    data = [
        obs("a", 1, 10, 1),
        obs("a", 1, 20, 3),
        obs("a", 2, 12, 3),
        obs("a", 2, 22, 1),
    ]
    jevons = compute_index(data, {"a": 1}, method=IndexMethod(weighting="traded"))
    assert jevons.value(2) == pytest.approx(math.sqrt(12 * 22) / math.sqrt(10 * 20), rel=1e-12)
    unit_value = compute_index(data, {"a": 1}, method=IndexMethod(elementary=Elementary.UNIT_VALUE))
    assert unit_value.value(2) == pytest.approx((36 + 22) / 4 / ((10 + 60) / 4), rel=1e-12)
    # the unit value falls although both lots got dearer: the mix moved to the cheap lot (unit-value bias)
    assert unit_value.value(2) < 1 < jevons.value(2)
    cells = {(c.item, c.period): c for c in jevons.cells()}
    assert cells["a", 1].observations == 2 and cells["a", 1].value == pytest.approx(70)
    assert cells["a", 1].price == pytest.approx(math.sqrt(200)) and not cells["a", 1].imputed


# -- imputation ------------------------------------------------------------------------------------------


def imputation_data():
    # a and b are vegetables, c is fruit; a is missing in period 2
    return [
        obs("a", 1, 10),
        obs("b", 1, 20),
        obs("c", 1, 5),
        obs("b", 2, 22),
        obs("c", 2, 10),
        obs("a", 3, 12),
        obs("b", 3, 24),
        obs("c", 3, 10),
    ]


CLASSES = {"a": "veg", "b": "veg", "c": "fruit"}
BASKET = {"a": D("0.4"), "b": D("0.4"), "c": D("0.2")}


def test_class_mean_imputation_moves_the_missing_item_with_its_class():
    result = compute_index(imputation_data(), BASKET, classes=CLASSES)
    [imputed] = result.imputed
    assert (imputed.item, imputed.period, imputed.how) == ("a", 2, "class_mean")
    assert imputed.price == pytest.approx(11.0)  # 10 × (22 / 20): b's change, not c's doubling
    expected = 0.4 * 11 / 10 + 0.4 * 22 / 20 + 0.2 * 10 / 5
    assert result.value(2) == pytest.approx(expected, rel=1e-12)
    cells = {(c.item, c.period): c for c in result.cells()}
    assert cells["a", 2].imputed and cells["a", 2].observations == 0
    # without classes the whole basket is the class: the weighted mean of b's and c's log changes
    pooled = compute_index(imputation_data(), BASKET).imputed[0]
    assert pooled.price == pytest.approx(10 * math.exp((0.4 * math.log(1.1) + 0.2 * math.log(2)) / 0.6))


def test_carry_forward_imputation_keeps_the_last_price():
    method = IndexMethod(imputation=Imputation.CARRY_FORWARD)
    result = compute_index(imputation_data(), BASKET, method=method, classes=CLASSES)
    [imputed] = result.imputed
    assert (imputed.how, imputed.price) == ("carry_forward", 10.0)


def test_items_entering_late_are_imputed_backwards_and_unseen_items_dropped():
    data = [obs("b", 1, 20), obs("b", 2, 22), obs("a", 2, 11), obs("b", 3, 24), obs("a", 3, 12)]
    result = compute_index(data, {"a": 1, "b": 1, "never": 2})
    assert result.dropped_items == ("never",)
    assert result.items == ("a", "b")
    assert dict(result.basket_weights) == {"a": 0.5, "b": 0.5}
    [back] = result.imputed
    assert (back.item, back.period, back.how) == ("a", 1, "class_mean_backward")
    assert back.price == pytest.approx(10.0)


def test_imputed_items_have_no_traded_value():
    data = [
        obs("a", 1, 10, 1),
        obs("b", 1, 20, 1),
        obs("b", 2, 22, 1),
        obs("a", 3, 12, 1),
        obs("b", 3, 24, 1),
    ]
    result = compute_index(
        data, {"a": 1, "b": 1}, method=IndexMethod(weighting=Weighting.TRADED, formula="fisher")
    )
    assert result.weights[2] == {"a": 0.0, "b": 1.0}


# -- weights ---------------------------------------------------------------------------------------------


def test_basket_weights_are_a_fixed_basket_price_updated():
    data = [obs("a", 1, 10), obs("b", 1, 10), obs("a", 2, 20), obs("b", 2, 10)]
    result = compute_index(data, {"a": D("0.25"), "b": D("0.75")})
    assert result.value(2) == pytest.approx(0.25 * 2 + 0.75 * 1)
    assert result.weights[1] == pytest.approx({"a": 0.25, "b": 0.75})
    assert result.weights[2] == pytest.approx({"a": 0.5 / 1.25, "b": 0.75 / 1.25})
    contributions = result.changes[2].contributions
    assert contributions == pytest.approx({"a": 0.25, "b": 0.0})


# -- series helpers --------------------------------------------------------------------------------------


def test_rebase_to_100():
    assert rebase({1: 0.5, 2: 1.0, 3: NoData(3)}, 2) == {1: 50.0, 2: 100.0, 3: NoData(3)}
    assert rebase({"a": 2.0, "b": 3.0}, "a", scale=1) == {"a": 1.0, "b": 1.5}
    with pytest.raises(NoDataError):
        rebase({1: NoData(1), 2: 1.0}, 1)
    with pytest.raises(KeyError):
        rebase({1: 1.0}, 2)


def test_chain_link_joins_segments_at_the_overlap():
    old = {"2024-10": 1.0, "2024-11": 1.1, "2024-12": 1.2}
    new = {"2024-12": 1.0, "2025-01": 1.05, "2025-02": NoData("2025-02"), "2025-03": 0.9}
    linked = chain_link(old, new)
    assert linked["2024-12"] == 1.2
    assert linked["2025-01"] == pytest.approx(1.26)
    assert linked["2025-02"] == NoData("2025-02")
    assert linked["2025-03"] == pytest.approx(1.08)
    # the link skips a period without data in either segment
    old_gap = {**old, "2025-01": NoData("2025-01")}
    assert chain_link(old_gap, new)["2025-01"] == pytest.approx(1.26)
    # explicit link period
    assert chain_link(old, {"2024-11": 2.0, "2024-12": 2.2}, link_periods=["2024-11"])[
        "2024-12"
    ] == pytest.approx(1.21)
    with pytest.raises(ValueError, match="shares no period"):
        chain_link(old, {"2030-01": 1.0})
    with pytest.raises(ValueError, match="one period per join"):
        chain_link(old, new, link_periods=[])


def test_chaining_links_equals_the_chained_index(ch19_observations, ch19_basket):
    """A chained index is the chain-linking of its two-period segments."""
    method = IndexMethod(formula="fisher", weighting="traded")
    chained = compute_index(ch19_observations, ch19_basket, method=dataclasses.replace(method, chained=True))
    segments = [
        dict(compute_index(ch19_observations, ch19_basket, method=method, periods=[t, t + 1]).values)
        for t in range(1, 5)
    ]
    linked = chain_link(*segments)
    for t in range(1, 6):
        assert linked[t] == pytest.approx(chained.value(t), abs=1e-12)


def test_period_labels_sort_in_time_order():
    assert period_label(date(2024, 3, 1), "day") == "2024-03-01"
    assert period_label(date(2024, 3, 1), "week") == "2024-W09"
    assert period_label(datetime(2024, 12, 30, 8), "week") == "2025-W01"  # ISO week-year
    assert period_label(date(2024, 3, 1), "month") == "2024-03"
    days = [date(2023, 12, 25) + timedelta(days=k) for k in range(400)]
    for frequency in ("day", "week", "month"):
        labels = [period_label(d, frequency) for d in days]
        assert labels == sorted(labels)
    with pytest.raises(ValueError):
        period_label(date(2024, 3, 1), "year")
    with pytest.raises(TypeError):
        period_label("2024-03-01", "day")


def test_columnar_input_equals_object_input(ch19_observations, ch19_basket):
    items = sorted(ch19_basket)
    table = ObservationTable.from_arrays(
        items=items,
        periods=[1, 2, 3, 4, 5],
        item_codes=[items.index(o.item) for o in ch19_observations],
        period_codes=[o.period - 1 for o in ch19_observations],
        prices=[float(o.price) for o in ch19_observations],
        quantities=[float(o.quantity) for o in ch19_observations],
    )
    method = IndexMethod(formula="tornqvist", weighting="traded", chained=True)
    a = compute_index(table, ch19_basket, method=method)
    b = compute_index(ch19_observations, ch19_basket, method=method)
    assert dict(a.values) == pytest.approx(dict(b.values), abs=1e-15)
    with pytest.raises(ValueError, match="time order"):
        ObservationTable.from_arrays(
            items=["a"], periods=[2, 1], item_codes=[0], period_codes=[0], prices=[1.0]
        )
    with pytest.raises(ValueError, match="positive"):
        ObservationTable.from_arrays(
            items=["a"], periods=[1], item_codes=[0], period_codes=[0], prices=[-1.0]
        )
    with pytest.raises(ValueError, match="out of range"):
        ObservationTable.from_arrays(items=["a"], periods=[1], item_codes=[1], period_codes=[0], prices=[1.0])
    empty = ObservationTable.from_arrays(
        items=[], periods=[], item_codes=[], period_codes=[], prices=np.zeros(0)
    )
    with pytest.raises(NoDataError):
        compute_index(empty, {"a": 1}, periods=[1])


# -- releases --------------------------------------------------------------------------------------------


def release_inputs():
    t0 = NOW - timedelta(days=3)
    data = [
        obs("a", "2024-01", 10, recorded_at=t0),
        obs("b", "2024-01", 20, recorded_at=t0),
        obs("a", "2024-02", 11, recorded_at=t0 + timedelta(hours=5)),
        obs("b", "2024-02", 19, recorded_at=t0 + timedelta(hours=1)),
    ]
    return data, {"a": D("0.6"), "b": D("0.4")}


def test_a_release_records_method_basket_weights_vintage_values_and_contributions():
    data, basket = release_inputs()
    result = compute_index(data, basket, periods=["2024-01", "2024-02", "2024-03"])
    release = make_release(result, series="cluster:1/category:veg/monthly", basket=basket, published_at=NOW)
    assert release.revision == 1 and release.supersedes is None
    assert release.method_version == PLATFORM_DEFAULT.version
    assert release.basket == {"a": D("0.6"), "b": D("0.4")}
    assert release.data_vintage == NOW - timedelta(days=3) + timedelta(hours=5)  # the newest input
    assert release.published_at == NOW
    assert release.values["2024-01"] == 100.0
    assert release.values["2024-02"] == pytest.approx(100 * (0.6 * 1.1 + 0.4 * 0.95))
    assert release.values["2024-03"] == NoData("2024-03")
    assert set(release.weights) == {"2024-01", "2024-02"}
    assert sum(release.contributions["2024-02"].values()) == pytest.approx(release.changes["2024-02"].change)
    body = release.as_dict()
    json.dumps(body)  # JSON-ready
    assert body["values"][2] == {
        "period": "2024-03",
        "value": None,
        "status": "no_data",
        "reason": "no_observations",
    }
    assert body["release_id"] == release.release_id and len(release.release_id) == 32


def test_releases_are_immutable():
    data, basket = release_inputs()
    release = make_release(compute_index(data, basket), series="s", basket=basket, published_at=NOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        release.values = {}
    with pytest.raises(TypeError):
        release.values["2024-01"] = 1.0
    with pytest.raises(TypeError):
        release.weights["2024-01"]["a"] = 1.0
    with pytest.raises(TypeError):
        release.changes["2024-02"].contributions["a"] = 0.0
    with pytest.raises(TypeError):
        release.basket["a"] = D(1)
    # the caller's own dict cannot change it afterwards either
    mine = dict(basket)
    other = make_release(compute_index(data, mine), series="s", basket=mine, published_at=NOW)
    mine["a"] = D("0.9")
    assert other.basket["a"] == D("0.6")


def test_a_revision_is_a_new_release_and_the_old_stays():
    data, basket = release_inputs()
    first = make_release(compute_index(data, basket), series="s", basket=basket, published_at=NOW)
    first_dict = first.as_dict()
    late = [*data, obs("a", "2024-02", 13, recorded_at=NOW + timedelta(hours=1))]
    revised = make_release(
        compute_index(late, basket),
        series="s",
        basket=basket,
        published_at=NOW + timedelta(days=1),
        previous=first,
    )
    assert revised.revision == 2 and revised.supersedes == first.release_id
    assert revised.release_id != first.release_id
    assert revised.values["2024-02"] != first.values["2024-02"]
    assert first.as_dict() == first_dict  # untouched
    with pytest.raises(ValueError, match="after the release it supersedes"):
        make_release(compute_index(late, basket), series="s", basket=basket, published_at=NOW, previous=first)
    with pytest.raises(ValueError, match="cannot be published as"):
        make_release(
            compute_index(late, basket),
            series="t",
            basket=basket,
            published_at=NOW + timedelta(days=1),
            previous=first,
        )


def test_release_ids_are_reproducible():
    data, basket = release_inputs()
    a = make_release(compute_index(data, basket), series="s", basket=basket, published_at=NOW)
    b = make_release(compute_index(data, basket), series="s", basket=basket, published_at=NOW)
    assert a.release_id == b.release_id
    c = make_release(
        compute_index(data, basket), series="s", basket=basket, published_at=NOW + timedelta(seconds=1)
    )
    assert c.release_id != a.release_id


def test_release_needs_vintage_and_aware_times():
    data, basket = release_inputs()
    no_vintage = [dataclasses.replace(o, recorded_at=None) for o in data]
    result = compute_index(no_vintage, basket)
    with pytest.raises(ValueError, match="data vintage"):
        make_release(result, series="s", basket=basket, published_at=NOW)
    assert (
        make_release(result, series="s", basket=basket, published_at=NOW, data_vintage=NOW).data_vintage
        == NOW
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        make_release(result, series="s", basket=basket, published_at=datetime(2024, 4, 1), data_vintage=NOW)
    with pytest.raises(ValueError, match="before its newest input"):
        make_release(
            result, series="s", basket=basket, published_at=NOW, data_vintage=NOW + timedelta(days=1)
        )
    with pytest.raises(ValueError, match="does not match"):
        make_release(result, series="s", basket={"a": 1}, published_at=NOW, data_vintage=NOW)
