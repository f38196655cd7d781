"""Load the shipped regions (3,213 rows). A later data update reruns ``chanlian load_regions`` instead."""

from django.db import migrations


def load(apps, schema_editor):
    from chanlian.regions.loader import load_regions

    load_regions(model=apps.get_model("regions", "Region"), using=schema_editor.connection.alias)


def unload(apps, schema_editor):
    from chanlian.regions.loader import unload_regions

    unload_regions(apps.get_model("regions", "Region"), using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("regions", "0001_initial")]

    operations = [migrations.RunPython(load, unload, elidable=False)]
