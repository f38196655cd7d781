"""The order's contract (合同): generated from the order, hashed, signed by an administrator of each side.

* ``contract_content(order)`` builds the contract — a 购销合同 — from the order and the rows it names
  (its parties, cluster, delivery county, industry pack) and nothing else: no clock, no request, no active
  language. The contract's text is Chinese whatever the reader's language, so the same order always gives
  the same content and the same ``content_hash`` (sha256 of its canonical JSON: sorted keys, no floats,
  Decimals as strings).
* ``issue_contract`` stores a new **version** of it and voids the previous current one (its signatures
  void with it); ``confirm_order`` issues version 1, ``amend_order`` the next ones; ``cancel_order`` voids it.
* ``sign_contract``: an **admin** of the buyer or of the supplier (staff may not bind the company)
  re-enters their password and sends the hash of the version they read. The hash must be the current
  version's *and* what the order gives now — a contract the order no longer matches is never signed. One
  signature per side; the second moves the order to ``contract_signed`` (and a payment-terms order on to
  ``on_terms``).
* ``signature_status`` says, for the page and for anyone checking later, who signed when, and whether the
  signatures still hold: they do while the stored content, its hash, the signed hashes and the order's
  raw terms (``content["terms"]``: keys and numbers as the order row holds them) all agree. The parties'
  registered name, address and contact and the pack's labels are a snapshot taken when the version was
  issued: an enterprise moving office, or a pack renaming a grade, does not undo signed contracts.
* ``contract_pdf`` renders the version with reportlab and a CJK TrueType font found on the machine
  (``CHANLIAN_CJK_FONT`` overrides); ``pdf_available()`` is false when there is none.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chanlian.core import audit, reauth
from chanlian.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chanlian.core.money import to_fen
from chanlian.registry.choices import EnterpriseRole
from chanlian.registry.principal import principal_for

from .. import values
from ..choices import PAYMENT_TERM_DAYS, SYSTEM, OrderStatus, PaymentTerms, Side
from ..models import Contract, ContractSignature, Order
from . import orders

__all__ = [
    "amend_order",
    "amount_in_words",
    "content_hash",
    "contract_content",
    "contract_pdf",
    "current_contract",
    "issue_contract",
    "order_terms",
    "pdf_available",
    "sign_contract",
    "signature_status",
    "void_contract",
]

CONTRACT_TITLE = "购销合同"
SIDE_ROLE = {Side.BUYER: "甲方（买方）", Side.SUPPLIER: "乙方（卖方）"}

# --------------------------------------------------------------------------------------------------------
# 人民币大写 (Chinese capital numerals for amounts, as on cheques and contracts)
# --------------------------------------------------------------------------------------------------------

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")


def _four(n: int) -> str:
    """0 < n < 10000, without leading 零; zeros inside collapse to one 零, trailing zeros vanish."""
    out, zero = [], False
    for place in range(3, -1, -1):
        digit = n // 10**place % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGITS[digit] + _PLACES[place])
    return "".join(out)


def _integer(n: int) -> str:
    """n > 0 in capital numerals: sections of four digits joined by 万 and 亿 (亿 nests: 万亿, 亿亿).
    A lower part that does not fill its section's top digit is introduced by one 零 (壹万零伍拾)."""
    if n >= 10**8:
        high, low = divmod(n, 10**8)
        text = _integer(high) + "亿"
        if low:
            text += ("零" if low < 10**7 else "") + _integer(low)
        return text
    if n >= 10**4:
        high, low = divmod(n, 10**4)
        text = _integer(high) + "万"
        if low:
            text += ("零" if low < 1000 else "") + _four(low)
        return text
    return _four(n)


def amount_in_words(amount: Decimal | str | int) -> str:
    """An amount of yuan in 人民币大写, rounded half-up to the fen: ``12345.67`` →
    ``壹万贰仟叁佰肆拾伍元陆角柒分``; whole yuan end in 整 (``壹佰元整``); no 元 part below one yuan
    (``伍角陆分``); a missing 角 before 分 is written 零 (``壹元零伍分``); ``0`` → ``零元整``.
    Negative amounts are refused (a contract never states one)."""
    if isinstance(amount, float):
        raise TypeError("amounts are Decimals, not floats")
    value = to_fen(Decimal(str(amount)))
    if value < 0:
        raise ValueError("a negative amount has no 大写 form here")
    fen_total = int(value * 100)
    yuan, cents = divmod(fen_total, 100)
    jiao, fen = divmod(cents, 10)
    if yuan == 0 and cents == 0:
        return "零元整"
    text = _integer(yuan) + "元" if yuan else ""
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif fen and yuan:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    if not fen and not jiao:
        text += "整"
    return text


# --------------------------------------------------------------------------------------------------------
# The content
# --------------------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-ready without floats: Decimals (and dates) as strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        raise TypeError("contract content never holds floats")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def canonical(content: dict) -> str:
    return json.dumps(_plain(content), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(content: dict) -> str:
    """sha256 (hex) of the content's canonical JSON."""
    return hashlib.sha256(canonical(content).encode("utf-8")).hexdigest()


def _number_text(value: Decimal) -> str:
    """A Decimal without its trailing zeros (``10.500`` → ``10.5``), never in exponent form."""
    text = f"{Decimal(value):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _money_text(value: Decimal) -> str:
    return f"{to_fen(Decimal(value)):,.2f}"


def _date_text(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _pack(order: Order):
    from chanlian.industry.packs import PackError

    try:
        return order.cluster.pack
    except (NotFound, PackError):  # a pack gone from the deployment: the contract shows the stored keys
        return None


def _category(pack, key: str):
    if pack is None or not pack.has_category(key):
        return None
    return pack.category(key)


def _unit_name(pack, key: str) -> str:
    try:
        return pack.unit(key).name_zh if pack is not None else key
    except InvalidInput:
        return key


def _choice_name(attr, key) -> str:
    choice = attr.choice(str(key)) if attr is not None else None
    return choice.name_zh if choice is not None else str(key)


def _spec_value(attr, value) -> str:
    suffix = f" {attr.unit}" if attr is not None and attr.unit else ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list | tuple):
        return "或".join(_choice_name(attr, v) for v in value)
    if isinstance(value, dict):
        low, high = value.get("min"), value.get("max")
        if low is not None and high is not None:
            return f"{low}–{high}{suffix}"
        if low is not None:
            return f"≥ {low}{suffix}"
        if high is not None:
            return f"≤ {high}{suffix}"
        return ""
    if attr is not None and attr.type == "enum":
        return _choice_name(attr, value)
    return f"{value}{suffix}"


def _spec_rows(category, spec: dict) -> list[dict]:
    rows = []
    keys = list(spec)
    if category is not None:  # the pack's attribute order, then anything the pack no longer knows
        known = [a.key for a in category.attributes if a.key in spec]
        keys = known + [k for k in keys if k not in known]
    for key in keys:
        attr = category.get_attribute(key) if category is not None else None
        rows.append(
            {
                "key": key,
                "label": attr.name_zh if attr is not None else key,
                "value": _spec_value(attr, spec[key]),
            }
        )
    return rows


def _party(enterprise, side: str) -> dict:
    return {
        "role": SIDE_ROLE[side],
        "name": enterprise.name,
        "uscc": enterprise.uscc,
        "region": enterprise.region.full_name,
        "address": enterprise.address,
        "contact_name": enterprise.contact_name,
        "contact_phone": enterprise.contact_phone,
    }


def _grades(pack, category, spec: dict) -> tuple[str, str]:
    """The contracted quality grade(s) and the standard they come from."""
    raw = spec.get("grade")
    keys = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list | tuple) else []
    names, standards = [], []
    for key in keys:
        try:
            grade = pack.grade(str(key)) if pack is not None else None
        except InvalidInput:
            grade = None
        names.append(grade.name_zh if grade is not None else str(key))
        if grade is not None and grade.standard and grade.standard not in standards:
            standards.append(grade.standard)
    if not standards and category is not None:
        standards = list(category.standards)
    return "或".join(names), "；".join(standards)


def _raw(value: Any) -> Any:
    """A stored JSON value made float-free (a float from an old row becomes its shortest repr)."""
    if isinstance(value, dict):
        return {str(k): _raw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_raw(v) for v in value]
    if isinstance(value, float):
        return repr(value)
    return value


def order_terms(order: Order) -> dict:
    """The order's own terms, raw (keys, not labels): what a signature binds, compared by
    ``signature_status`` with what the database holds now."""
    return {
        "reference": order.reference,
        "cluster": order.cluster_id,
        "buyer_uscc": order.buyer.uscc,
        "supplier_uscc": order.supplier.uscc,
        "category": order.category,
        "title": order.title,
        "spec": _raw(order.spec if isinstance(order.spec, dict) else {}),
        "quantity": str(order.quantity),
        "unit": order.unit,
        "unit_price": str(order.unit_price),
        "amount": str(order.amount),
        "currency": order.currency,
        "delivery_region": order.delivery_region_id,
        "delivery_address": order.delivery_address,
        "delivery_date": order.delivery_date.isoformat(),
        "payment_terms": str(order.payment_terms),
        "fee_rate": str(order.fee_rate),
        "note": order.note,
        "confirmed_on": _local_date(order.confirmed_at or order.placed_at).isoformat(),
    }


def _local_date(moment) -> dt.date:
    return timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()


def contract_content(order: Order, *, version: int | None = None) -> dict:
    """The contract of ``order`` as a JSON-ready dict (strings, ints, lists, dicts only).

    ``version`` numbers it (``<reference>-<version>``); by default the current version's, or 1.
    Only terms fixed once the order is confirmed enter it — never its status, the outcome of acceptance or
    a clock — so the content of a version can be recomputed at any time and must give the same hash."""
    if version is None:
        current = current_contract(order)
        version = current.version if current is not None else 1
    cluster = order.cluster
    pack = _pack(order)
    category = _category(pack, order.category)
    spec = order.spec if isinstance(order.spec, dict) else {}
    day = _local_date(order.confirmed_at or order.placed_at)
    buyer = _party(order.buyer, Side.BUYER)
    supplier = _party(order.supplier, Side.SUPPLIER)
    unit = _unit_name(pack, order.unit)
    amount = to_fen(order.amount)
    capital = amount_in_words(amount)
    county = order.delivery_region.full_name
    court_region = cluster.region.full_name
    operator = cluster.operator.name
    fee_percent = _number_text(Decimal(order.fee_rate) * 100)
    grade, standard = _grades(pack, category, spec)

    item = {
        "category": category.name_zh if category is not None else order.category,
        "category_key": order.category,
        "name": order.title,
        "spec": _spec_rows(category, spec),
        "quantity": _number_text(order.quantity),
        "unit": unit,
        "unit_key": order.unit,
        "unit_price": _money_text(order.unit_price),
        "amount": _money_text(amount),
    }
    delivery = {
        "county": county,
        "address": order.delivery_address,
        "date": order.delivery_date.isoformat(),
        "date_text": _date_text(order.delivery_date),
    }
    place = f"{county}{order.delivery_address}" if order.delivery_address else county
    terms = str(order.payment_terms)
    if terms == PaymentTerms.ESCROW:
        payment_text = (
            f"买方应于本合同生效后，将合同总价款人民币{capital}（¥{_money_text(amount)}）全额支付至"
            f"{cluster.name}平台资金监管账户，付款附言注明订单付款参考号 {order.reference}。"
            "卖方在款项到达监管账户后发货；买方验收合格后，平台按验收合格的金额将货款（扣除平台服务费）"
            "结算给卖方，余款退还买方。"
        )
        days = 0
    else:
        days = PAYMENT_TERM_DAYS.get(terms, 0)
        payment_text = (
            f"本合同采用账期付款：卖方先行发货，买方应在验收合格之日起{days}日内，将验收合格货物对应的价款"
            f"支付至{cluster.name}平台资金监管账户，付款附言注明订单付款参考号 {order.reference}；"
            "平台收款后（扣除平台服务费）结算给卖方。"
        )
    quality = f"质量等级：{grade}。" if grade else ""
    if standard:
        quality += f"执行标准：{standard}。"
    elif not grade:
        quality += "执行国家标准、行业标准；无相应标准的，按双方确认的样品。"
    acceptance_text = (
        f"{quality}买方应在货物送达后及时验收，并在平台上确认验收数量与质量等级；"
        "对质量有异议的，应在验收时在平台上提出争议，逾期未提出视为验收合格。"
    )
    articles = [
        {
            "heading": "第一条 标的、数量及价款",
            "text": (
                f"标的物及规格、数量、单价见上表。合同总价款为人民币{capital}（¥{_money_text(amount)}），"
                "为含税价，包含货物运至交货地点的费用。"
            ),
        },
        {
            "heading": "第二条 交货",
            "text": (
                f"卖方应于{_date_text(order.delivery_date)}前将货物运至{place}交付买方，"
                "并在平台上登记承运单位与运单号。"
            ),
        },
        {"heading": "第三条 质量标准与验收", "text": acceptance_text},
        {"heading": "第四条 付款方式", "text": payment_text},
        {
            "heading": "第五条 平台服务费",
            "text": (
                f"平台服务费按结算金额的{fee_percent}%计收，由卖方承担，在结算时从应付卖方的货款中扣收；"
                "卖方应在收款后向买方开具增值税发票并在平台登记。"
            ),
        },
        {
            "heading": "第六条 违约责任",
            "text": (
                "任何一方未按本合同约定履行义务的，应承担违约责任，赔偿对方因此遭受的损失；"
                "经双方协商一致，可在平台上取消订单，已付款项原路退回。"
            ),
        },
        {
            "heading": "第七条 争议解决",
            "text": (
                f"因本合同发生的争议，双方应首先在平台上提请集群运营方（{operator}）调解；"
                f"调解不成的，任何一方均可向集群所在地（{court_region}）有管辖权的人民法院提起诉讼。"
            ),
        },
    ]
    if order.note:
        articles.append({"heading": "第八条 其他约定", "text": order.note})
    articles.append(
        {
            "heading": f"第{'九' if order.note else '八'}条 合同的签署与生效",
            "text": (
                "本合同由双方授权管理员在平台上以电子方式签署，双方均签署后生效。"
                "签署的内容以本合同内容摘要（SHA-256）为准；订单条款变更的，本版本作废，双方须重新签署。"
            ),
        }
    )
    content = {
        "title": CONTRACT_TITLE,
        "number": f"{order.reference}-{version:02d}",
        "version": version,
        "order_reference": order.reference,
        "date": day.isoformat(),
        "date_text": _date_text(day),
        "place": cluster.region.full_name,
        "platform": {"cluster": cluster.name, "operator": operator},
        "parties": {"buyer": buyer, "supplier": supplier},
        "preamble": (
            f"买方{buyer['name']}与卖方{supplier['name']}经{cluster.name}平台达成交易，根据《中华人民共和国民法典》"
            "及有关规定，双方遵循平等、自愿、公平、诚实信用的原则，签订本合同，共同遵守。"
        ),
        "items": [item],
        "total": {
            "amount": _money_text(amount),
            "value": str(amount),
            "capital": f"人民币{capital}",
            "currency": order.currency,
        },
        "delivery": delivery,
        "payment": {"terms": terms, "days": days, "text": payment_text},
        "acceptance": {"grade": grade, "standard": standard, "text": acceptance_text},
        "fee": {"rate": str(order.fee_rate), "percent": fee_percent},
        "dispute": {"mediator": operator, "court_region": court_region},
        "note": order.note,
        "articles": articles,
        "signatures": [
            {"side": str(Side.BUYER), "role": SIDE_ROLE[Side.BUYER], "name": buyer["name"]},
            {"side": str(Side.SUPPLIER), "role": SIDE_ROLE[Side.SUPPLIER], "name": supplier["name"]},
        ],
        "terms": order_terms(order),
    }
    return json.loads(canonical(content))


# --------------------------------------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------------------------------------


def current_contract(order: Order) -> Contract | None:
    """The order's version in force (not voided), or None."""
    return Contract.objects.filter(order_id=order.pk, voided_at__isnull=True).first()


def _void(contract: Contract, reason: str) -> None:
    contract.voided_at = timezone.now()
    contract.void_reason = str(reason)[:500]
    contract.save(update_fields=["voided_at", "void_reason"])


@transaction.atomic
def issue_contract(actor, order: Order) -> Contract:
    """A new version of the contract of ``order`` (locked by the caller), voiding the one in force."""
    previous = Contract.objects.select_for_update().filter(order_id=order.pk).order_by("-version").first()
    version = previous.version + 1 if previous is not None else 1
    if previous is not None and previous.voided_at is None:
        _void(previous, f"superseded by version {version}")
    content = contract_content(order, version=version)
    digest = content_hash(content)
    contract = Contract.objects.create(order=order, version=version, content=content, content_hash=digest)
    audit.record(
        actor,
        "contract.issued",
        contract,
        cluster_id=order.cluster_id,
        enterprise_id=order.supplier_id,
        after={"order": order.pk, "version": version, "content_hash": digest},
    )
    return contract


@transaction.atomic
def void_contract(order: Order, reason: str) -> Contract | None:
    """Void the version in force of ``order`` (and its signatures with it); None when there is none."""
    contract = Contract.objects.select_for_update().filter(order_id=order.pk, voided_at__isnull=True).first()
    if contract is None:
        return None
    _void(contract, reason)
    audit.record(
        None,
        "contract.voided",
        contract,
        cluster_id=order.cluster_id,
        enterprise_id=order.supplier_id,
        after={"order": order.pk, "version": contract.version, "reason": str(reason)[:500]},
    )
    return contract


# --------------------------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------------------------


def _changed() -> Conflict:
    return Conflict(
        _("The contract has changed since you read it: read the current version and sign again."),
        code="contract_changed",
    )


def _signing_side(actor, order: Order) -> tuple[str, int]:
    """The side ``actor`` signs for: an **admin** of the buyer or of the supplier (not staff, not a
    platform admin acting for others). A user who is admin of both signs the side not yet signed."""
    roles = principal_for(actor).roles
    sides = [
        (side, eid)
        for side, eid in ((Side.BUYER, order.buyer_id), (Side.SUPPLIER, order.supplier_id))
        if roles.get(eid) == EnterpriseRole.ADMIN
    ]
    if not sides:
        raise Forbidden(
            _("Only an administrator of the buyer or of the supplier may sign the contract."),
            code="not_authorised_signatory",
        )
    if len(sides) > 1:
        current = current_contract(order)
        signed = set(current.signatures.values_list("side", flat=True)) if current is not None else set()
        unsigned = [s for s in sides if s[0] not in signed]
        sides = unsigned or sides
    side, eid = sides[0]
    return str(side), eid


def sign_contract(actor, order_id, *, password, content_hash: str) -> Contract:
    """Sign the version in force for the actor's side, with the actor's password re-entered and the hash
    of the version read. The second side's signature makes the order ``contract_signed`` (and a
    payment-terms order ``on_terms``).

    The password is checked first, in its own transaction (``core.reauth``: 400 ``wrong_password``; after
    5 wrong ones in 15 minutes 429 ``too_many_attempts``), so that the failure is counted although the
    signature is refused."""
    reauth.verify_password(actor, password)
    return _sign(actor, order_id, content_hash)


@transaction.atomic
def _sign(actor, order_id, content_hash: str) -> Contract:
    hash_ = content_hash
    order = orders.lock_order(actor, order_id, "view")
    side, enterprise_id = _signing_side(actor, order)
    if order.status != OrderStatus.CONFIRMED:
        raise orders.illegal_order_move(order, OrderStatus.CONTRACT_SIGNED)
    contract = Contract.objects.select_for_update().filter(order_id=order.pk, voided_at__isnull=True).first()
    given = str(hash_ or "").strip().lower()
    if (
        contract is None
        or given != contract.content_hash
        or _hash(contract_content(order, version=contract.version)) != contract.content_hash
    ):
        raise _changed()
    if contract.signatures.filter(side=side).exists():
        raise Conflict(_("Your side has already signed this contract."), code="already_signed")
    ContractSignature.objects.create(
        contract=contract, side=side, enterprise_id=enterprise_id, user=actor, content_hash=given
    )
    audit.record(
        actor,
        "contract.signed",
        contract,
        cluster_id=order.cluster_id,
        enterprise_id=enterprise_id,
        after={"order": order.pk, "version": contract.version, "side": side, "content_hash": given},
    )
    if contract.signatures.count() == 2:
        orders.move_order(actor, order, OrderStatus.CONTRACT_SIGNED, SYSTEM, enterprise_id=enterprise_id)
        if order.payment_terms != PaymentTerms.ESCROW:
            orders.move_order(actor, order, OrderStatus.ON_TERMS, SYSTEM, enterprise_id=enterprise_id)
    return contract


_hash = content_hash  # sign_contract's keyword shadows the function's name


def signature_status(contract: Contract) -> dict:
    """Who signed ``contract`` when, and whether the signatures hold.

    ``intact``: the stored content still hashes to ``content_hash``; ``matches_order``: the order's terms
    still give this content; each side's ``valid``: it signed this very hash and both hold; ``valid``:
    both sides signed validly."""
    # Read the order afresh: the check is against what the database holds now, not a cached object.
    order = Order.objects.select_related(
        "buyer__region", "supplier__region", "cluster__region", "cluster__operator", "delivery_region"
    ).get(pk=contract.order_id)
    intact = content_hash(contract.content) == contract.content_hash
    matches = intact and contract.content.get("terms") == json.loads(canonical(order_terms(order)))
    current = contract.voided_at is None
    by_side = {s.side: s for s in contract.signatures.select_related("user", "enterprise")}
    sides = {}
    for side in (Side.BUYER, Side.SUPPLIER):
        sig = by_side.get(str(side))
        sides[str(side)] = {
            "signed": sig is not None,
            "user": sig.user.get_full_name() or sig.user.username if sig is not None else "",
            "user_id": sig.user_id if sig is not None else None,
            "enterprise": sig.enterprise.name if sig is not None else "",
            "signed_at": sig.signed_at if sig is not None else None,
            "valid": bool(
                sig is not None and sig.content_hash == contract.content_hash and intact and matches
            ),
        }
    return {
        "version": contract.version,
        "content_hash": contract.content_hash,
        "current": current,
        "voided_at": contract.voided_at,
        "void_reason": contract.void_reason,
        "intact": intact,
        "matches_order": matches,
        "buyer": sides[str(Side.BUYER)],
        "supplier": sides[str(Side.SUPPLIER)],
        "complete": all(s["signed"] for s in sides.values()),
        "valid": current and all(s["valid"] for s in sides.values()),
    }


# --------------------------------------------------------------------------------------------------------
# Amendment
# --------------------------------------------------------------------------------------------------------


@transaction.atomic
def amend_order(actor, order_id, *, delivery_date=None, delivery_address=None, note=None) -> Order:
    """Change a confirmed order's delivery date, delivery address or note (either party's admin or staff)
    and issue the contract anew: signatures given on the older version are void with it. With nothing to
    change, the contract is reissued only if the order's registered data no longer gives its content
    (e.g. a party's address changed before signing); otherwise 400 ``nothing_to_amend``."""
    order = orders.lock_order(actor, order_id, "party")
    if order.status != OrderStatus.CONFIRMED:
        raise Conflict(
            _("Only a confirmed order whose contract is not yet signed can be amended."),
            code="illegal_transition",
        )
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if delivery_date is not None:
        day = values.not_before_today(
            values.date(delivery_date, "delivery_date"), "delivery_date", "delivery_in_past"
        )
        if day != order.delivery_date:
            before["delivery_date"], after["delivery_date"] = order.delivery_date, day
            order.delivery_date = day
    if delivery_address is not None:
        address = values.text(delivery_address, "delivery_address", max_length=200)
        if address != order.delivery_address:
            before["delivery_address"], after["delivery_address"] = order.delivery_address, address
            order.delivery_address = address
    if note is not None:
        text = values.text(note, "note", max_length=2000)
        if text != order.note:
            before["note"], after["note"] = order.note, text
            order.note = text
    current = Contract.objects.select_for_update().filter(order_id=order.pk, voided_at__isnull=True).first()
    stale = current is None or content_hash(contract_content(order, version=current.version)) != (
        current.content_hash
    )
    if not after and not stale:
        raise InvalidInput(_("Nothing to change."), code="nothing_to_amend")
    if after:
        order.save(update_fields=[*after, "updated_at"])
    side = Side.SUPPLIER if principal_for(actor).staff_of(order.supplier_id) else Side.BUYER
    enterprise_id = order.supplier_id if side == Side.SUPPLIER else order.buyer_id
    contract = issue_contract(actor, order)
    audit.record(
        actor,
        "order.amended",
        order,
        cluster_id=order.cluster_id,
        enterprise_id=enterprise_id,
        before=before,
        after={**after, "contract_version": contract.version, "side": str(side)},
    )
    return order


# --------------------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------------------

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansSC-Regular.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
FONT_NAME = "ChanlianCJK"


def cjk_font_path() -> str | None:
    """The CJK TrueType font the PDF uses: ``CHANLIAN_CJK_FONT`` if it names a file, else the first of
    ``FONT_CANDIDATES`` present. reportlab embeds TrueType outlines only (not CFF: Noto's OTF/TTC with
    PostScript outlines will fail to load and is then skipped)."""
    override = os.environ.get("CHANLIAN_CJK_FONT", "").strip()
    candidates = [override] if override else list(FONT_CANDIDATES)
    for path in candidates:
        if path and Path(path).is_file() and _registered(path):
            return path
    return None


@lru_cache(maxsize=8)
def _registered(path: str) -> bool:
    try:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont
    except ImportError:
        return False
    try:
        pdfmetrics.registerFont(TTFont(_font_name(path), path, subfontIndex=0))
    except Exception:
        return False
    return True


def _font_name(path: str) -> str:
    return f"{FONT_NAME}-{hashlib.sha256(path.encode()).hexdigest()[:8]}"


def pdf_available() -> bool:
    """True when reportlab and a usable CJK font are installed."""
    return cjk_font_path() is not None


def contract_pdf(contract: Contract) -> bytes:
    """The version as an A4 PDF (the stored content, its hash and each side's signature)."""
    path = cjk_font_path()
    if path is None:
        raise RuntimeError("no CJK font for the contract PDF (set CHANLIAN_CJK_FONT)")
    return _render_pdf(contract.content, contract.content_hash, signature_status(contract), _font_name(path))


def _render_pdf(c: dict, digest: str, status: dict, font: str) -> bytes:
    import io
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    base = ParagraphStyle("body", fontName=font, fontSize=10, leading=15, wordWrap="CJK")
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=11, textColor=colors.HexColor("#444444"))
    title = ParagraphStyle("title", parent=base, fontSize=20, leading=28, alignment=TA_CENTER, spaceAfter=4)
    head = ParagraphStyle("head", parent=base, fontSize=11, leading=17, spaceBefore=6, keepWithNext=1)
    cell = ParagraphStyle("cell", parent=base, fontSize=9, leading=12)

    def para(text, style=base):
        return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)

    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ]
    )
    width = A4[0] - 36 * mm
    story: list = [
        para(c["title"], title),
        para(f"合同编号：{c['number']}　　签订日期：{c['date_text']}　　签订地点：{c['place']}", small),
        Spacer(1, 4 * mm),
    ]
    parties = c["parties"]
    rows = [[para("", cell), para(parties["buyer"]["role"], cell), para(parties["supplier"]["role"], cell)]]
    for label, key in (
        ("名称", "name"),
        ("统一社会信用代码", "uscc"),
        ("所在地区", "region"),
        ("地址", "address"),
        ("联系人", "contact_name"),
        ("联系电话", "contact_phone"),
    ):
        rows.append(
            [para(label, cell), para(parties["buyer"][key], cell), para(parties["supplier"][key], cell)]
        )
    table = Table(rows, colWidths=[0.22 * width, 0.39 * width, 0.39 * width])
    table.setStyle(grid)
    story += [table, Spacer(1, 3 * mm), para(c["preamble"]), Spacer(1, 3 * mm)]

    rows = [[para(h, cell) for h in ("品类", "品名", "规格", "数量", "单位", "单价（元）", "金额（元）")]]
    for item in c["items"]:
        spec = "；".join(f"{s['label']}：{s['value']}" for s in item["spec"])
        rows.append(
            [
                para(item["category"], cell),
                para(item["name"], cell),
                para(spec, cell),
                para(item["quantity"], cell),
                para(item["unit"], cell),
                para(item["unit_price"], cell),
                para(item["amount"], cell),
            ]
        )
    total = c["total"]
    rows.append(
        [
            para("合计", cell),
            para(f"（大写）{total['capital']}", cell),
            "",
            "",
            "",
            "",
            para(f"¥{total['amount']}", cell),
        ]
    )
    table = Table(rows, colWidths=[w * width for w in (0.12, 0.2, 0.26, 0.1, 0.08, 0.12, 0.12)])
    table.setStyle(grid)
    table.setStyle(TableStyle([("SPAN", (1, -1), (5, -1))]))
    story += [table, Spacer(1, 2 * mm)]
    for article in c["articles"]:
        story += [para(article["heading"], head), para(article["text"])]

    story.append(Spacer(1, 6 * mm))
    rows = []
    for sig in c["signatures"]:
        state = status.get(sig["side"]) or {}
        when = state.get("signed_at")
        signed = (
            f"已于 {timezone.localtime(when).strftime('%Y-%m-%d %H:%M')} 由 {state.get('user')} 在平台签署"
            if state.get("signed") and when
            else "尚未签署"
        )
        rows.append([para(f"{sig['role']}：{sig['name']}", cell), para(f"授权代表签署：{signed}", cell)])
    table = Table(rows, colWidths=[0.45 * width, 0.55 * width], rowHeights=[18 * mm] * len(rows))
    table.setStyle(
        TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")])
    )
    story += [table, Spacer(1, 4 * mm), para(f"合同内容摘要（SHA-256）：{digest}", small)]
    if not status.get("current", True):
        story.append(para(f"本版本已作废：{status.get('void_reason', '')}", small))

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"{c['title']} {c['number']}",
        author=c["platform"]["cluster"],
        invariant=1,
    )

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.setFillColor(colors.HexColor("#666666"))
        canvas.drawCentredString(A4[0] / 2, 9 * mm, f"{c['title']} {c['number']} · 第 {document.page} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
