"""The example service's routes."""

from django.urls import path

from . import views

urlpatterns = [
    path("api/public", views.public),
    path("api/messages", views.list_messages),
    path("api/imports", views.import_data),
]
