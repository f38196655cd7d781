from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionLevel(models.TextChoices):
    PROVINCE = "province", _("Province")  # 省级
    PREFECTURE = "prefecture", _("Prefecture")  # 地级
    COUNTY = "county", _("County")  # 县级
