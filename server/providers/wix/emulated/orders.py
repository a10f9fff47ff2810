"""Orders (a Wix site's purchases) added, changed and removed: see
`server.providers.wix.emulated.mutations`."""

from __future__ import annotations

from decimal import Decimal

from server.providers.emulated.mutations import Change, Done
from server.providers.wix.emulated.dataset import ECOM_APP_ID, prune
from server.providers.wix.emulated.draft import (
    ORDER_STATUSES,
    PAYMENT_STATUSES,
    Draft,
    Product,
    label,
)


def _money(amount: Decimal) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "formattedAmount": f"${amount:,.2f}"}


def add_order(draft: Draft, change: Change, products: dict[str, Product]) -> Done:
    change.allow("participant", "product", "quantity", "paymentStatus")
    contact_id = change.need("participant")
    contact = draft.contacts[draft.find(draft.contacts, contact_id, change, "Contact")]
    if not products:
        raise change.error(409, "The store sells nothing yet")
    product_id = change.get("product", next(iter(products)))
    if product_id not in products:
        raise change.missing(f"Product {product_id}")
    quantity = change.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 100:
        raise change.error(400, "quantity must be an integer between 1 and 100")
    product = products[product_id]
    numbers = [int(order["number"]) for order in draft.orders if order.get("number")]
    order = prune(
        {
            "id": draft.new_id("order"),
            "number": str(max(numbers, default=10000) + 1),
            "createdDate": draft.stamp,
            "purchasedDate": draft.stamp,
            "updatedDate": draft.stamp,
            "status": "APPROVED",
            "paymentStatus": change.choice("paymentStatus", PAYMENT_STATUSES, "PAID"),
            "currency": "USD",
            "buyerInfo": {
                "contactId": contact["id"],
                "email": contact.get("primaryInfo", {}).get("email"),
            },
            "lineItems": [
                {
                    "id": draft.new_id("line item"),
                    "productName": {"original": product.name},
                    "catalogReference": {"catalogItemId": product.id, "appId": ECOM_APP_ID},
                    "quantity": quantity,
                    "price": _money(product.price),
                    "totalPriceAfterTax": _money(product.price * quantity),
                }
            ],
        }
    )
    draft.orders.append(order)
    done = Done(change, order["id"], draft.stamp, f"order {order['number']}: {product.name}")
    done.done += f" x{quantity} for {label(contact)}"
    done.record = order
    return done.touch("purchase", "add", order["id"], "order")


def change_order(draft: Draft, change: Change) -> Done:
    change.allow("paymentStatus", "status")
    if not change.fields:
        raise change.error(400, "purchase change needs paymentStatus or status")
    wanted = {
        "paymentStatus": change.choice("paymentStatus", PAYMENT_STATUSES),
        "status": change.choice("status", ORDER_STATUSES),
    }
    index = draft.find(draft.orders, change.id, change, "Order")
    order = draft.orders[index]
    updated = {**order, "updatedDate": draft.stamp}
    updated |= {key: value for key, value in wanted.items() if key in change.fields}
    draft.orders[index] = updated = prune(updated)
    what = ", ".join(str(updated.get(key)) for key in change.fields)
    done = Done(change, order["id"], draft.stamp, f"order {order.get('number')} {what}")
    done.record = updated
    return done.touch("purchase", "change", order["id"], "order")


def remove_order(draft: Draft, change: Change) -> Done:
    change.allow()
    order = draft.orders.pop(draft.find(draft.orders, change.id, change, "Order"))
    done = Done(change, order["id"], draft.stamp, f"removed order {order.get('number')}")
    return done.touch("purchase", "remove", order["id"], "order")
