"""Trading's non-API views. The pages come in a later step; for now only the photo files."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.urls import path
from django.views.decorators.http import require_GET

from .. import selectors


@require_GET
@login_required
def photo_file(request, pk: int):
    """A listing photo, to whoever may see its listing (a draft's photos stay private): 404 otherwise.

    Served through this view rather than from ``MEDIA_URL`` so that the listing's visibility rule holds
    for its photos too. The stored content type was read from the file's bytes at upload.
    """
    photo = selectors.photo(request.user, pk)
    if photo is None or not default_storage.exists(photo.file.name):
        raise Http404()
    response = FileResponse(default_storage.open(photo.file.name, "rb"), content_type=photo.content_type)
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=3600"
    return response


urlpatterns = [
    path("photos/<int:pk>/", photo_file, name="photo"),
]
