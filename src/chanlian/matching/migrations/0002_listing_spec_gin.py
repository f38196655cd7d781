"""PostgreSQL only: indexes for matching and search at scale (docs/matching.md, "Performance").

* ``listing_spec_gin``: a GIN ``jsonb_path_ops`` index on ``trade_listing.spec``. The enum and boolean
  constraints of a demand or a search are sent as one containment (``spec @> '{"grade": "premium", …}'``,
  ``search.apply_spec``), which this index answers without reading the JSON of every listing of the
  category.
* ``listing_category_status``: ``(category, status, cluster_id)`` for the candidate scan of a category
  across a pack's clusters when no spec constraint is selective.

SQLite has neither a GIN index nor ``@>``: there the constraints stay JSON lookups (nothing to create).
The indexes are on the trade app's table but serve only matching, so they live here; ``CONCURRENTLY`` is
not used (migrations run in a transaction; a deployment with many listings may create them by hand first,
the ``IF NOT EXISTS`` then makes this a no-op).
"""

from django.db import migrations

INDEXES = {
    "listing_spec_gin": (
        "CREATE INDEX IF NOT EXISTS listing_spec_gin ON trade_listing USING gin (spec jsonb_path_ops)"
    ),
    "listing_category_status": (
        "CREATE INDEX IF NOT EXISTS listing_category_status ON trade_listing (category, status, cluster_id)"
    ),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in INDEXES.values():
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("matching", "0001_initial"),
        ("trade", "0004_listing_imports"),
    ]

    operations = [migrations.RunPython(create, drop)]
