from chanlian.registry.principal import principal_for


def chanlian(request):
    """Template context every page needs: who is acting, in which roles, and what the nav offers."""
    user = getattr(request, "user", None)
    principal = principal_for(user) if user is not None else None
    return {
        "principal": principal,
        "nav_operator": bool(principal and (principal.operated_cluster_ids or principal.is_platform_admin)),
        "nav_section": getattr(getattr(request, "resolver_match", None), "url_name", "") or "",
    }
