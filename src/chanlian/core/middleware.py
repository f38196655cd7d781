"""Chinese first: pages speak Simplified Chinese unless the person chose English with the switch.

Django's LocaleMiddleware would follow the browser's Accept-Language, so a Chinese operator on an English
system would get English pages. Here a page follows only the language cookie (set by the switch) and
otherwise ``LANGUAGE_CODE``; the API, whose clients are programs, follows Accept-Language as documented.
"""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request):
        if request.path.startswith("/api/"):
            return super().process_request(request)
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        supported = {code for code, _name in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
