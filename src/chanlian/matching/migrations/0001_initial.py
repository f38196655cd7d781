"""The listing search index, backfilled from the listings already published."""

import django.db.models.deletion
from django.db import migrations, models


def backfill(apps, schema_editor):
    from chanlian.matching.index import rebuild_index

    models = (apps.get_model("matching", "ListingSearch"), apps.get_model("matching", "ListingGram"))
    rebuild_index(models=models, listing_model=apps.get_model("trade", "Listing"))


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('trade', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='ListingSearch',
            fields=[
                ('listing', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='search_entry', serialize=False, to='trade.listing')),
                ('text', models.TextField()),
                ('title', models.CharField(max_length=400)),
                ('price', models.DecimalField(decimal_places=2, max_digits=20)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'indexes': [models.Index(fields=['price', 'listing'], name='listing_search_price')],
            },
        ),
        migrations.CreateModel(
            name='ListingGram',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('gram', models.CharField(max_length=2)),
                ('listing', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='trade.listing')),
            ],
            options={
                'indexes': [models.Index(fields=['gram', 'listing'], name='listing_gram_lookup')],
                'constraints': [models.UniqueConstraint(fields=('listing', 'gram'), name='listing_gram_unique')],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
