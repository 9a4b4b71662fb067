//! The tracking plan the ingestion benchmark attaches: 50 events of the Segment e-commerce,
//! lifecycle and email specs, each with the product properties a shop sends, so that the
//! benchmark's `Product Viewed` events are checked against a full schema.

use serde_json::{Value, json};

const EVENT_NAMES: [&str; 50] = [
    "Products Searched",
    "Product List Viewed",
    "Product List Filtered",
    "Promotion Viewed",
    "Promotion Clicked",
    "Product Clicked",
    "Product Viewed",
    "Product Added",
    "Product Removed",
    "Cart Viewed",
    "Checkout Started",
    "Checkout Step Viewed",
    "Checkout Step Completed",
    "Payment Info Entered",
    "Order Updated",
    "Order Completed",
    "Order Refunded",
    "Order Cancelled",
    "Coupon Entered",
    "Coupon Applied",
    "Coupon Denied",
    "Coupon Removed",
    "Product Added to Wishlist",
    "Product Removed from Wishlist",
    "Wishlist Product Added to Cart",
    "Product Shared",
    "Cart Shared",
    "Product Reviewed",
    "Signed Up",
    "Signed In",
    "Signed Out",
    "Account Created",
    "Account Deleted",
    "Trial Started",
    "Trial Ended",
    "Subscription Started",
    "Subscription Cancelled",
    "Invite Sent",
    "Form Submitted",
    "Email Opened",
    "Email Link Clicked",
    "Email Bounced",
    "Unsubscribed",
    "Video Playback Started",
    "Video Playback Completed",
    "Push Notification Received",
    "Push Notification Tapped",
    "Application Opened",
    "Application Installed",
    "Loyalty Points Redeemed",
];

fn product_properties() -> Value {
    json!({
        "type": "object",
        "required": ["product_id", "price", "currency"],
        "properties": {
            "product_id": {"type": "string", "minLength": 1, "maxLength": 64},
            "name": {"type": "string", "maxLength": 200},
            "category": {"type": "string"},
            "price": {"type": "number", "minimum": 0},
            "currency": {"type": "string", "enum": ["EUR", "SEK", "NOK", "DKK", "USD", "GBP"]},
            "quantity": {"type": "integer", "minimum": 1},
            "position": {"type": "integer", "minimum": 0},
            "url": {"type": "string", "pattern": "^https?://"},
            "coupon": {"type": "string"},
            "order_id": {"type": "string"}
        }
    })
}

/// The plan as the JSON a team would propose.
pub fn plan() -> Value {
    let events: Vec<Value> = EVENT_NAMES
        .iter()
        .map(|name| {
            json!({
                "name": name,
                "owner": "shop-team",
                "description": format!("{name}, as the Segment spec describes it."),
                "properties": product_properties(),
                "classification": {"url": {"personal": false, "category": "behavioural"}}
            })
        })
        .collect();
    json!({"name": "Shop (benchmark)", "owner": "shop-team", "events": events})
}
