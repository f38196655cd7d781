"""The trading API: ``market`` (listings, demands, quotes) and ``orders`` (orders, contracts, shipments,
invoices, payments, disputes, bank statements). Thin: parse, call a service, render."""
