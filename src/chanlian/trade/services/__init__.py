"""Every write of trading, one module per part of the market; import them from here.

* ``market``    listings, demands / RFQs, quotes and their negotiation, awards, RFQ messages;
* ``orders``    orders and their state machine: confirmation with stock reservation, shipments, delivery,
                acceptance, settlement, cancellation, disputes — every money move a ledger entry;
* ``contracts`` the contract generated from an order, its content hash, both parties' signatures;
* ``invoices``  the supplier's VAT invoices and the buyer's confirmation;
* ``payments``  the payment providers: the operator's confirmation of a bank transfer, bank statement CSV
                import and matching by reference;
* ``bulk``      listings imported from an XLSX template, all or nothing; XLSX exports of listings, orders.
"""

from .bulk import *  # noqa: F403
from .bulk import __all__ as _bulk
from .contracts import *  # noqa: F403
from .contracts import __all__ as _contracts
from .invoices import *  # noqa: F403
from .invoices import __all__ as _invoices
from .market import *  # noqa: F403
from .market import __all__ as _market
from .orders import *  # noqa: F403
from .orders import __all__ as _orders
from .payments import *  # noqa: F403
from .payments import __all__ as _payments

__all__ = [*_market, *_orders, *_contracts, *_invoices, *_payments, *_bulk]
