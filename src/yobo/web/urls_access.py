"""Login, second factor, idle lock, staff and terminal administration (see access_views)."""

urlpatterns: list = []
