"""Who sees a notification: its recipient, nobody else — not the platform admin either (an inbox is
personal). Another user's notification is 404, exactly like a missing one."""

from chanlian.core.permissions import policy

from .models import Notification


@policy(Notification)
def notification_policy(qs, user, action):
    if action in ("view", "read"):
        return qs.filter(recipient_user_id=user.pk)
    return qs.none()
