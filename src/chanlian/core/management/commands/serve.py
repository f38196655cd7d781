"""``chanlian serve``: the production WSGI server (gunicorn), not Django's runserver."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve Chanlian with gunicorn (default 127.0.0.1:8000, or $PORT)."

    def add_arguments(self, parser):
        default_bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
        parser.add_argument("--bind", default=default_bind, help="HOST:PORT (default %(default)s)")
        parser.add_argument("--workers", type=int, default=int(os.environ.get("CHANLIAN_WORKERS", "2")))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("CHANLIAN_THREADS", "4")))

    def handle(self, *args, bind, workers, threads, **options):
        from gunicorn.app.base import BaseApplication

        from chanlian.wsgi import application

        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)

        class Server(BaseApplication):
            def load_config(self):
                self.cfg.set("bind", [bind])
                self.cfg.set("workers", workers)
                self.cfg.set("threads", threads)
                self.cfg.set("worker_class", "gthread" if threads > 1 else "sync")
                self.cfg.set("accesslog", os.environ.get("CHANLIAN_ACCESS_LOG", "-"))
                self.cfg.set("timeout", 60)

            def load(self):
                return application

        self.stdout.write(f"Chanlian serving on http://{bind}/ ({workers} workers × {threads} threads)")
        Server().run()
