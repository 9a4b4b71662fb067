//! The mobile app as Segment's iOS and Android libraries report it: lifecycle events, screens
//! and the same e-commerce track calls as the web shop, under the app's own anonymous id.

use rand::Rng;
use silta_model::EventType;

use crate::batches::Source;
use crate::calendar::random_later;
use crate::catalog::{self, Order, Product};
use crate::json::JsonObject;
use crate::people::{AppDevice, Person, Platform, write_profile_traits};
use crate::run::Run;
use crate::visits::Goal;
use crate::web::write_order_properties;

const APP_NAME: &str = "Silta Shop";
const APP_VERSION: &str = "4.12.0";
const APP_BUILD: &str = "4120";
/// App users browse a little longer than web visitors.
const CONTINUE_BROWSING: f64 = 0.72;
const MAX_SCREENS: u32 = 8;

#[derive(Debug, Clone, Copy)]
enum Screen {
    Home,
    Category(&'static str),
    ProductDetail(&'static Product),
    Cart,
    Checkout,
    OrderConfirmation,
    SignUp,
    LogIn,
}

impl Screen {
    fn name(self) -> &'static str {
        match self {
            Screen::Home => "Home",
            Screen::Category(_) => "Category",
            Screen::ProductDetail(_) => "Product Detail",
            Screen::Cart => "Cart",
            Screen::Checkout => "Checkout",
            Screen::OrderConfirmation => "Order Confirmation",
            Screen::SignUp => "Sign Up",
            Screen::LogIn => "Log In",
        }
    }
}

struct AppSession {
    anonymous_id: String,
    user_id: Option<String>,
    platform: Platform,
    device: AppDevice,
    user_agent: String,
    ip: String,
    locale: &'static str,
    on_wifi: bool,
    current_product: Option<&'static Product>,
    screens: u32,
    clock: u32,
}

impl AppSession {
    fn new(run: &mut Run, person: &Person, logged_in: bool, start: u32) -> Self {
        let device = person.app_device();
        AppSession {
            anonymous_id: person.app_anonymous_id(),
            user_id: logged_in.then(|| person.user_id()),
            platform: person.platform,
            device,
            user_agent: format!(
                "SiltaShop/{APP_VERSION} ({}; {} {})",
                device.model, device.os_name, device.os_version
            ),
            ip: person.mobile_ip(),
            locale: person.locale,
            on_wifi: run.rng.random_bool(0.6),
            current_product: None,
            screens: 0,
            clock: start,
        }
    }

    fn write_identity(&self, event: &mut JsonObject<'_>) {
        event
            .str("anonymousId", &self.anonymous_id)
            .opt_str("userId", self.user_id.as_deref());
    }

    fn write_context(&self, event: &mut JsonObject<'_>) {
        let (library, library_version, device_type) = match self.platform {
            Platform::Ios => ("analytics-ios", "4.1.8", "ios"),
            Platform::Android => ("analytics-android", "4.11.3", "android"),
        };
        let mut context = event.object("context");
        context
            .object("app")
            .str("name", APP_NAME)
            .str("version", APP_VERSION)
            .str("build", APP_BUILD)
            .str("namespace", "com.silta.shop");
        context
            .object("device")
            .str("id", &self.anonymous_id)
            .str("manufacturer", self.device.manufacturer)
            .str("model", self.device.model)
            .str("type", device_type);
        context
            .object("os")
            .str("name", self.device.os_name)
            .str("version", self.device.os_version);
        context
            .object("library")
            .str("name", library)
            .str("version", library_version);
        context.object("network").bool("wifi", self.on_wifi);
        context
            .str("ip", &self.ip)
            .str("locale", self.locale)
            .str("userAgent", &self.user_agent);
    }

    fn show(&mut self, run: &mut Run, screen: Screen) {
        if self.screens > 0 {
            self.clock = random_later(&mut run.rng, self.clock, 4_000..90_000);
        }
        self.screens += 1;
        self.current_product = match screen {
            Screen::ProductDetail(product) => Some(product),
            _ => None,
        };
        {
            let mut event = run
                .out
                .event(Source::MobileApp, EventType::Screen, self.clock);
            self.write_identity(&mut event);
            event.str("name", screen.name());
            match screen {
                Screen::Category(category) => {
                    event.object("properties").str("category", category);
                }
                Screen::ProductDetail(product) => {
                    event
                        .object("properties")
                        .str("product_id", product.id)
                        .str("name", product.name);
                }
                _ => {}
            }
            self.write_context(&mut event);
        }
        if let Screen::ProductDetail(product) = screen {
            self.track(run, "Product Viewed", |properties| {
                catalog::write_product(properties, product);
                properties.str("currency", "EUR");
            });
        }
    }

    fn track(
        &mut self,
        run: &mut Run,
        name: &str,
        write_properties: impl FnOnce(&mut JsonObject<'_>),
    ) {
        self.clock = random_later(&mut run.rng, self.clock, 200..3_000);
        let mut event = run
            .out
            .event(Source::MobileApp, EventType::Track, self.clock);
        self.write_identity(&mut event);
        event.str("event", name);
        write_properties(&mut event.object("properties"));
        self.write_context(&mut event);
    }

    fn identify(&mut self, run: &mut Run, person: &Person) {
        self.user_id = Some(person.user_id());
        self.clock = random_later(&mut run.rng, self.clock, 500..3_000);
        let mut event = run
            .out
            .event(Source::MobileApp, EventType::Identify, self.clock);
        self.write_identity(&mut event);
        write_profile_traits(&mut event.object("traits"), person);
        self.write_context(&mut event);
    }

    fn open_app(&mut self, run: &mut Run, first_open: bool) {
        if first_open {
            self.track(run, "Application Installed", |properties| {
                properties
                    .str("version", APP_VERSION)
                    .str("build", APP_BUILD);
            });
        }
        let from_background = !first_open && run.rng.random_bool(0.4);
        self.track(run, "Application Opened", |properties| {
            properties
                .bool("from_background", from_background)
                .str("version", APP_VERSION)
                .str("build", APP_BUILD);
        });
    }

    fn add_to_cart(&mut self, run: &mut Run, product: &'static Product, quantity: u64) {
        self.track(run, "Product Added", |properties| {
            catalog::write_product(properties, product);
            properties.u64("quantity", quantity).str("currency", "EUR");
        });
    }
}

/// An app session; returns when it ended (milliseconds since midnight).
pub(crate) fn session(
    run: &mut Run,
    person: &Person,
    logged_in: bool,
    goal: Goal<'_>,
    first_open: bool,
    start: u32,
) -> u32 {
    let mut session = AppSession::new(run, person, logged_in, start);
    session.open_app(run, first_open);
    session.show(run, Screen::Home);
    match goal {
        Goal::Browse => browse(run, &mut session),
        Goal::Purchase(order) => purchase(run, &mut session, order),
        Goal::SignUp { .. } => {
            session.show(run, Screen::SignUp);
            session.identify(run, person);
            let plan = person.plan;
            session.track(run, "Signed Up", |properties| {
                properties.str("method", "email").str("plan", plan);
            });
        }
    }
    session.clock
}

fn browse(run: &mut Run, session: &mut AppSession) {
    while session.screens < MAX_SCREENS && run.rng.random_bool(CONTINUE_BROWSING) {
        let screen = if run.rng.random_bool(0.6) {
            Screen::ProductDetail(catalog::random_product(&mut run.rng))
        } else {
            Screen::Category(catalog::random_category(&mut run.rng))
        };
        session.show(run, screen);
        if let Some(product) = session.current_product
            && run.rng.random_bool(0.1)
        {
            session.add_to_cart(run, product, 1);
        }
    }
}

fn purchase(run: &mut Run, session: &mut AppSession, order: &Order) {
    for line in &order.lines {
        session.show(run, Screen::ProductDetail(line.product));
        session.add_to_cart(run, line.product, line.quantity);
    }
    session.show(run, Screen::Cart);
    session.show(run, Screen::Checkout);
    session.track(run, "Checkout Started", |properties| {
        write_order_properties(properties, order);
    });
    session.clock = random_later(&mut run.rng, session.clock, 20_000..180_000);
    session.track(run, "Order Completed", |properties| {
        write_order_properties(properties, order);
    });
    session.show(run, Screen::OrderConfirmation);
}

/// A customer who signed up on the web logging in to the app: the identify that links the
/// app's anonymous id to the same user id.
pub(crate) fn log_in(run: &mut Run, person: &Person, start: u32) -> u32 {
    let mut session = AppSession::new(run, person, false, start);
    session.open_app(run, true);
    session.show(run, Screen::LogIn);
    session.identify(run, person);
    session.track(run, "Signed In", |properties| {
        properties.str("method", "email");
    });
    session.clock
}
