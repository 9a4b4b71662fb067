//! What the demo shop sells and how a basket is put together. The basket rules are simple
//! enough that the expected order value is known exactly, which is how order counts are tied to
//! the media-mix revenue.

use rand::Rng;

use crate::choice::weighted_choice;
use crate::json::{JsonArray, JsonObject};

#[derive(Debug)]
pub(crate) struct Product {
    pub(crate) id: &'static str,
    pub(crate) sku: &'static str,
    pub(crate) name: &'static str,
    pub(crate) slug: &'static str,
    pub(crate) category: &'static str,
    pub(crate) price_cents: u64,
}

const fn product(
    id: &'static str,
    sku: &'static str,
    name: &'static str,
    slug: &'static str,
    category: &'static str,
    price_cents: u64,
) -> Product {
    Product {
        id,
        sku,
        name,
        slug,
        category,
        price_cents,
    }
}

pub(crate) const CATEGORIES: &[&str] = &["apparel", "home", "kitchen", "outdoor", "beauty"];

#[rustfmt::skip]
pub(crate) const PRODUCTS: &[Product] = &[
    product("p-1001", "APP-TEE-ORG", "Organic Cotton Tee", "organic-cotton-tee", "apparel", 2490),
    product("p-1002", "APP-HOOD-MRN", "Merino Hoodie", "merino-hoodie", "apparel", 8900),
    product("p-1003", "APP-SOCK-3PK", "Wool Socks 3-Pack", "wool-socks-3-pack", "apparel", 1990),
    product("p-1004", "APP-JKT-RAIN", "Packable Rain Jacket", "packable-rain-jacket", "apparel", 11900),
    product("p-1005", "APP-CAP-LIN", "Linen Cap", "linen-cap", "apparel", 2290),
    product("p-2001", "HOM-THR-WOOL", "Wool Throw Blanket", "wool-throw-blanket", "home", 7400),
    product("p-2002", "HOM-CND-BIR", "Birch Scented Candle", "birch-scented-candle", "home", 1890),
    product("p-2003", "HOM-LMP-OAK", "Oak Table Lamp", "oak-table-lamp", "home", 6900),
    product("p-2004", "HOM-CUS-LIN", "Linen Cushion Cover", "linen-cushion-cover", "home", 2900),
    product("p-2005", "HOM-RUG-JUT", "Jute Rug", "jute-rug", "home", 9900),
    product("p-3001", "KIT-MUG-STN", "Stoneware Mug", "stoneware-mug", "kitchen", 1490),
    product("p-3002", "KIT-KNF-CHF", "Chef's Knife", "chefs-knife", "kitchen", 5900),
    product("p-3003", "KIT-PAN-CST", "Cast Iron Pan", "cast-iron-pan", "kitchen", 4900),
    product("p-3004", "KIT-BRD-WAL", "Walnut Cutting Board", "walnut-cutting-board", "kitchen", 3900),
    product("p-3005", "KIT-COF-GRD", "Hand Coffee Grinder", "hand-coffee-grinder", "kitchen", 4490),
    product("p-4001", "OUT-BTL-STL", "Steel Water Bottle", "steel-water-bottle", "outdoor", 2490),
    product("p-4002", "OUT-PCK-20L", "Daypack 20L", "daypack-20l", "outdoor", 6900),
    product("p-4003", "OUT-LMP-HED", "Headlamp", "headlamp", "outdoor", 3490),
    product("p-4004", "OUT-MAT-CMP", "Camping Mat", "camping-mat", "outdoor", 5400),
    product("p-4005", "OUT-TNT-2P", "Two-Person Tent", "two-person-tent", "outdoor", 18900),
    product("p-5001", "BEA-SOP-TAR", "Pine Tar Soap", "pine-tar-soap", "beauty", 890),
    product("p-5002", "BEA-CRM-HND", "Hand Cream", "hand-cream", "beauty", 1290),
    product("p-5003", "BEA-OIL-BRD", "Beard Oil", "beard-oil", "beauty", 1690),
    product("p-5004", "BEA-SRM-VIT", "Vitamin C Serum", "vitamin-c-serum", "beauty", 3490),
];

/// How many distinct products a basket holds, and how likely each count is.
const LINE_COUNT_SHARES: [(usize, f64); 4] = [(1, 0.55), (2, 0.28), (3, 0.12), (4, 0.05)];
/// Share of lines bought twice rather than once.
const DOUBLE_QUANTITY_SHARE: f64 = 0.15;

/// E[order value] = E[lines] × E[quantity] × mean price: each line's product is uniform over the
/// catalogue whatever the other lines hold.
pub(crate) fn expected_order_value_cents() -> f64 {
    let expected_lines: f64 = LINE_COUNT_SHARES
        .iter()
        .map(|(lines, share)| *lines as f64 * share)
        .sum();
    let mean_price = PRODUCTS
        .iter()
        .map(|product| product.price_cents as f64)
        .sum::<f64>()
        / PRODUCTS.len() as f64;
    expected_lines * (1.0 + DOUBLE_QUANTITY_SHARE) * mean_price
}

pub(crate) fn random_product(rng: &mut impl Rng) -> &'static Product {
    &PRODUCTS[rng.random_range(0..PRODUCTS.len())]
}

pub(crate) fn random_category(rng: &mut impl Rng) -> &'static str {
    CATEGORIES[rng.random_range(0..CATEGORIES.len())]
}

#[derive(Debug)]
pub(crate) struct OrderLine {
    pub(crate) product: &'static Product,
    pub(crate) quantity: u64,
}

#[derive(Debug)]
pub(crate) struct Order {
    pub(crate) order_id: String,
    pub(crate) lines: Vec<OrderLine>,
    pub(crate) revenue_cents: u64,
}

pub(crate) fn random_order(rng: &mut impl Rng, order_id: String) -> Order {
    let line_count = weighted_choice(rng, &LINE_COUNT_SHARES);
    let mut lines: Vec<OrderLine> = Vec::with_capacity(line_count);
    while lines.len() < line_count {
        let product = random_product(rng);
        if lines.iter().any(|line| std::ptr::eq(line.product, product)) {
            continue;
        }
        let quantity = if rng.random_bool(DOUBLE_QUANTITY_SHARE) {
            2
        } else {
            1
        };
        lines.push(OrderLine { product, quantity });
    }
    let revenue_cents = lines
        .iter()
        .map(|line| line.product.price_cents * line.quantity)
        .sum();
    Order {
        order_id,
        lines,
        revenue_cents,
    }
}

/// The Segment e-commerce spec's product fields.
pub(crate) fn write_product(object: &mut JsonObject<'_>, product: &Product) {
    object
        .str("product_id", product.id)
        .str("sku", product.sku)
        .str("name", product.name)
        .str("category", product.category)
        .money("price", product.price_cents);
}

pub(crate) fn write_order_products(products: &mut JsonArray<'_>, order: &Order) {
    for line in &order.lines {
        let mut object = products.object();
        write_product(&mut object, line.product);
        object.u64("quantity", line.quantity);
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn average_basket_matches_the_expected_order_value() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let orders = 200_000;
        let total: u64 = (0..orders)
            .map(|number| random_order(&mut rng, format!("o-{number}")).revenue_cents)
            .sum();
        let average = total as f64 / f64::from(orders);
        let expected = expected_order_value_cents();
        assert!(
            (average / expected - 1.0).abs() < 0.01,
            "{average} vs {expected}"
        );
        assert!(
            (4_000.0..12_000.0).contains(&expected),
            "average order value {expected} cents"
        );
    }

    #[test]
    fn slugs_and_categories_are_consistent() {
        for product in PRODUCTS {
            assert!(CATEGORIES.contains(&product.category));
            assert!(
                product
                    .slug
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
            );
        }
    }
}
