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
        parser.add_argument(
            "--keepalive",
            type=int,
            default=int(os.environ.get("CHANLIAN_KEEPALIVE", "0")),
            help="seconds a client connection is kept open between requests (default %(default)s)",
        )

    def handle(self, *args, bind, workers, threads, keepalive, **options):
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
                # No keep-alive by default: each request comes on its own connection, so it goes to
                # whichever worker is free to accept it. A kept-alive connection stays with the worker
                # that accepted it, and a few busy connections can pile onto one GIL-bound worker while
                # the other idles (8 kept-alive clients: 92 to 149 orders/s by how they fell, 144 in
                # every run without; docs/benchmarks.md). The reverse proxy in front
                # (docs/operations.md) keeps the clients' connections alive.
                self.cfg.set("keepalive", keepalive)

            def load(self):
                return application

        self.stdout.write(f"Chanlian serving on http://{bind}/ ({workers} workers × {threads} threads)")
        Server().run()
