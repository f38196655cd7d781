"""``chanlian check_packs [FILE ...]``: load every industry pack (or the given files) and report.

Prints one summary line per good pack and the ``file: key.path: reason`` of each bad one; exits non-zero
if any pack is bad, so it can run in CI and before a deployment picks up an operator's new pack.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from chanlian.industry.packs import Pack, PackError, clear_pack_cache, load_pack_file, pack_dirs, pack_files


def summary(pack: Pack) -> str:
    c = pack.counts
    return (
        f"{pack.key} {pack.version} {pack.name_zh} / {pack.name_en}: "
        f"{c['stages']} stages, {c['units']} units, {c['grades']} grades, "
        f"{c['categories']} categories, {c['attributes']} attributes, "
        f"{c['basket_items']} basket items ({pack.source})"
    )


class Command(BaseCommand):
    help = "Load and validate industry packs: every pack directory, or the given TOML files."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="*", help="Pack files to check instead of the pack directories.")

    def handle(self, *args, **options):
        if options["files"]:
            files = [Path(f) for f in options["files"]]
        else:
            clear_pack_cache()
            try:
                files = pack_files()
            except PackError as exc:
                raise CommandError(str(exc)) from None
            dirs = ", ".join(str(d) for d in pack_dirs())
            self.stdout.write(f"pack directories: {dirs}")
        failed = 0
        for file in files:
            try:
                pack = load_pack_file(file)
            except PackError as exc:
                failed += 1
                self.stderr.write(self.style.ERROR(f"FAIL {exc}"))
                continue
            self.stdout.write(self.style.SUCCESS("ok   ") + summary(pack))
        if failed:
            raise CommandError(f"{failed} of {len(files)} pack(s) failed validation")
        self.stdout.write(f"{len(files)} pack(s) valid")
