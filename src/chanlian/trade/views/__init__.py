"""Trading's pages and files: ``photos`` (listing photo files), ``market`` (listings, demands, quotes),
``orders`` (orders and everything on them, the operator's payment desk), ``contracts`` (the printable
contract and its PDF). Each module has its ``urlpatterns``; ``trade/urls.py`` joins them."""
