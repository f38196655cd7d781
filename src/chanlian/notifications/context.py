"""The nav's unread badge: at most one query per page for a signed-in user, none for anonymous ones."""

from .selectors import unread_count


def notifications(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_unread_notifications": 0}
    return {"nav_unread_notifications": unread_count(user)}
