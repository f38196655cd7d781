from django import template

register = template.Library()

TONE = {"registered": "warn", "confirmed": "ok", "held": "ok", "transferring": "info", "split": "muted"}


@register.filter
def tone(status) -> str:
    """The badge tone of a receivable's or voucher's status."""
    return TONE.get(str(status), "muted")
