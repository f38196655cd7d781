"""``ListingFacts``: the facts a demand's ranking reads of each published listing (models.py), with

* on PostgreSQL a GIN ``jsonb_path_ops`` index on its ``spec`` (the hard constraints' containment, as
  ``listing_spec_gin`` on ``trade_listing``);
* a trigger on ``trade_listing`` (PostgreSQL and SQLite) copying ``available_quantity``, ``moq`` and
  ``lead_time_days`` to the listing's row whenever an ``UPDATE`` changes them — an order takes stock with
  a queryset update, which no ``post_save`` sees;
* triggers on ``registry_membership`` setting ``supplier_verified`` on the rows of the member's
  listings in that cluster when a membership is made, decided (verified, suspended, rejected) or
  removed;
* the rows of the listings published now (``index.rebuild_facts``).
"""

import django.db.models.deletion
from django.db import migrations, models

COPIED = ("available_quantity", "moq", "lead_time_days")

POSTGRESQL = [
    "CREATE INDEX IF NOT EXISTS listing_facts_spec_gin ON matching_listingfacts USING gin (spec jsonb_path_ops)",
    """CREATE OR REPLACE FUNCTION matching_listingfacts_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE matching_listingfacts
       SET available_quantity = NEW.available_quantity, moq = NEW.moq, lead_time_days = NEW.lead_time_days
     WHERE listing_id = NEW.id;
    RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS matching_listingfacts_copy ON trade_listing",
    """CREATE TRIGGER matching_listingfacts_copy AFTER UPDATE OF available_quantity, moq, lead_time_days
    ON trade_listing FOR EACH ROW
    WHEN (OLD.available_quantity IS DISTINCT FROM NEW.available_quantity OR OLD.moq IS DISTINCT FROM NEW.moq
          OR OLD.lead_time_days IS DISTINCT FROM NEW.lead_time_days)
    EXECUTE FUNCTION matching_listingfacts_copy()""",
]
POSTGRESQL += [
    """CREATE OR REPLACE FUNCTION matching_listingfacts_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE matching_listingfacts SET supplier_verified = false
         WHERE cluster_id = OLD.cluster_id AND supplier_id = OLD.enterprise_id AND supplier_verified;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE matching_listingfacts SET supplier_verified = (NEW.status = 'verified')
         WHERE cluster_id = NEW.cluster_id AND supplier_id = NEW.enterprise_id
           AND supplier_verified IS DISTINCT FROM (NEW.status = 'verified');
    END IF;
    RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS matching_listingfacts_member ON registry_membership",
    """CREATE TRIGGER matching_listingfacts_member
    AFTER INSERT OR DELETE OR UPDATE OF status, cluster_id, enterprise_id ON registry_membership
    FOR EACH ROW EXECUTE FUNCTION matching_listingfacts_member()""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS matching_listingfacts_copy ON trade_listing",
    "DROP FUNCTION IF EXISTS matching_listingfacts_copy()",
    "DROP TRIGGER IF EXISTS matching_listingfacts_member ON registry_membership",
    "DROP FUNCTION IF EXISTS matching_listingfacts_member()",
]
SQLITE = [
    "DROP TRIGGER IF EXISTS matching_listingfacts_copy",
    """CREATE TRIGGER matching_listingfacts_copy AFTER UPDATE OF available_quantity, moq, lead_time_days
    ON trade_listing FOR EACH ROW
    WHEN OLD.available_quantity IS NOT NEW.available_quantity OR OLD.moq IS NOT NEW.moq
         OR OLD.lead_time_days IS NOT NEW.lead_time_days
    BEGIN
        UPDATE matching_listingfacts
           SET available_quantity = NEW.available_quantity, moq = NEW.moq, lead_time_days = NEW.lead_time_days
         WHERE listing_id = NEW.id;
    END""",
]
_SET = "UPDATE matching_listingfacts SET supplier_verified = {value} WHERE cluster_id = {row}.cluster_id AND supplier_id = {row}.enterprise_id;"
SQLITE += [
    "DROP TRIGGER IF EXISTS matching_listingfacts_member_insert",
    "CREATE TRIGGER matching_listingfacts_member_insert AFTER INSERT ON registry_membership FOR EACH ROW "
    "BEGIN " + _SET.format(value="(NEW.status = 'verified')", row="NEW") + " END",
    "DROP TRIGGER IF EXISTS matching_listingfacts_member_update",
    "CREATE TRIGGER matching_listingfacts_member_update "
    "AFTER UPDATE OF status, cluster_id, enterprise_id ON registry_membership FOR EACH ROW BEGIN "
    + _SET.format(value="0", row="OLD")
    + " "
    + _SET.format(value="(NEW.status = 'verified')", row="NEW")
    + " END",
    "DROP TRIGGER IF EXISTS matching_listingfacts_member_delete",
    "CREATE TRIGGER matching_listingfacts_member_delete AFTER DELETE ON registry_membership FOR EACH ROW "
    "BEGIN " + _SET.format(value="0", row="OLD") + " END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS matching_listingfacts_copy",
    "DROP TRIGGER IF EXISTS matching_listingfacts_member_insert",
    "DROP TRIGGER IF EXISTS matching_listingfacts_member_update",
    "DROP TRIGGER IF EXISTS matching_listingfacts_member_delete",
]


def forwards(apps, schema_editor):
    from chanlian.matching.index import rebuild_facts

    vendor = schema_editor.connection.vendor
    for sql in {"postgresql": POSTGRESQL, "sqlite": SQLITE}.get(vendor, []):
        schema_editor.execute(sql)
    rebuild_facts(
        facts_model=apps.get_model("matching", "ListingFacts"),
        listing_model=apps.get_model("trade", "Listing"),
        using=schema_editor.connection.alias,
    )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in {"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}.get(vendor, []):
        schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ('matching', '0002_listing_spec_gin'),
        ('registry', '0002_cluster_fee_rate'),
        ('trade', '0004_listing_imports'),
    ]

    operations = [
        migrations.CreateModel(
            name='ListingFacts',
            fields=[
                ('listing', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='match_facts', serialize=False, to='trade.listing')),
                ('pack_key', models.CharField(max_length=64)),
                ('category', models.CharField(max_length=64)),
                ('unit', models.CharField(max_length=64)),
                ('moq', models.DecimalField(decimal_places=3, max_digits=18)),
                ('available_quantity', models.DecimalField(decimal_places=3, max_digits=18)),
                ('lead_time_days', models.PositiveIntegerField(default=0)),
                ('supplier_verified', models.BooleanField(default=False)),
                ('lat', models.FloatField(null=True)),
                ('lon', models.FloatField(null=True)),
                ('spec', models.JSONField(default=dict)),
                ('tiers', models.JSONField(default=list)),
                ('cluster', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='registry.cluster')),
                ('supplier', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='registry.enterprise')),
            ],
            options={
                'verbose_name_plural': 'listing facts',
                'indexes': [models.Index(fields=['pack_key', 'category'], name='listing_facts_category'), models.Index(fields=['supplier', 'cluster'], name='listing_facts_supplier')],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
