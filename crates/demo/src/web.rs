//! The web shop as analytics.js reports it: page views with page and campaign context, the
//! e-commerce funnel as track calls, identify and alias at signup.

use rand::Rng;
use silta_model::EventType;

use crate::batches::Source;
use crate::calendar::random_later;
use crate::catalog::{self, Order, Product};
use crate::json::JsonObject;
use crate::media_mix::PAID_CHANNELS;
use crate::people::{Person, write_profile_traits};
use crate::run::Run;
use crate::visits::Goal;

const ORIGIN: &str = "https://shop.silta.example";
const LIBRARY_VERSION: &str = "next-1.70.0";
/// Chance of looking at one more page; gives about a third of visits as bounces.
const CONTINUE_BROWSING: f64 = 0.68;
const MAX_PAGES: u32 = 8;

/// How a visit reached the shop, which decides its referrer and campaign.
#[derive(Debug, Clone)]
pub(crate) enum Arrival {
    Direct,
    OrganicSearch {
        referrer: &'static str,
    },
    Social {
        referrer: &'static str,
    },
    Referral {
        referrer: &'static str,
    },
    Paid {
        channel: usize,
        creative: &'static str,
    },
    Email {
        campaign: String,
    },
}

impl Arrival {
    fn referrer(&self) -> &'static str {
        match self {
            Arrival::Direct | Arrival::Email { .. } => "",
            Arrival::OrganicSearch { referrer }
            | Arrival::Social { referrer }
            | Arrival::Referral { referrer } => referrer,
            Arrival::Paid { channel, .. } => match PAID_CHANNELS[*channel].utm_source {
                "google" => "https://www.google.com/",
                "bing" => "https://www.bing.com/",
                "youtube" => "https://www.youtube.com/",
                "facebook" => "https://l.facebook.com/",
                "instagram" => "https://l.instagram.com/",
                "tiktok" => "https://www.tiktok.com/",
                "snapchat" => "https://www.snapchat.com/",
                "pinterest" => "https://www.pinterest.com/",
                "linkedin" => "https://www.linkedin.com/",
                "x" => "https://t.co/",
                "amazon" => "https://www.amazon.de/",
                // Display, native and affiliate ads sit on publishers' pages.
                _ => "https://news.publisher.example/",
            },
        }
    }

    fn campaign(&self, todays_campaign: &str) -> Option<Campaign> {
        match self {
            Arrival::Paid { channel, creative } => Some(Campaign {
                source: PAID_CHANNELS[*channel].utm_source,
                medium: PAID_CHANNELS[*channel].utm_medium,
                name: todays_campaign.to_string(),
                content: Some(creative),
            }),
            Arrival::Email { campaign } => Some(Campaign {
                source: "newsletter",
                medium: "email",
                name: campaign.clone(),
                content: None,
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Campaign {
    source: &'static str,
    medium: &'static str,
    name: String,
    content: Option<&'static str>,
}

impl Campaign {
    fn query(&self) -> String {
        let mut query = format!(
            "?utm_source={}&utm_medium={}&utm_campaign={}",
            self.source, self.medium, self.name
        );
        if let Some(content) = self.content {
            query.push_str("&utm_content=");
            query.push_str(content);
        }
        query
    }
}

#[derive(Debug, Clone, Copy)]
enum Page {
    Home,
    Category(&'static str),
    Product(&'static Product),
    Cart,
    Checkout,
    Confirmation,
    SignUp,
    LogIn,
}

impl Page {
    fn name(self) -> &'static str {
        match self {
            Page::Home => "Home",
            Page::Category(_) => "Category",
            Page::Product(_) => "Product",
            Page::Cart => "Cart",
            Page::Checkout => "Checkout",
            Page::Confirmation => "Order Confirmation",
            Page::SignUp => "Sign Up",
            Page::LogIn => "Log In",
        }
    }

    fn path(self) -> String {
        match self {
            Page::Home => "/".to_string(),
            Page::Category(category) => format!("/collections/{category}"),
            Page::Product(product) => format!("/products/{}", product.slug),
            Page::Cart => "/cart".to_string(),
            Page::Checkout => "/checkout".to_string(),
            Page::Confirmation => "/checkout/confirmation".to_string(),
            Page::SignUp => "/account/signup".to_string(),
            Page::LogIn => "/account/login".to_string(),
        }
    }

    fn title(self) -> String {
        let heading = match self {
            Page::Home => "Nordic goods for everyday life".to_string(),
            Page::Category(category) => {
                let mut heading = category.to_string();
                heading[..1].make_ascii_uppercase();
                heading
            }
            Page::Product(product) => product.name.to_string(),
            other => other.name().to_string(),
        };
        format!("{heading} | Silta Shop")
    }
}

/// One browser visit; every event of it shares identity and context.
struct WebSession {
    anonymous_id: String,
    user_id: Option<String>,
    user_agent: &'static str,
    ip: String,
    locale: &'static str,
    campaign: Option<Campaign>,
    path: String,
    url: String,
    search: String,
    title: String,
    referrer: String,
    current_product: Option<&'static Product>,
    pages: u32,
    clock: u32,
}

impl WebSession {
    fn new(
        run: &Run,
        person: &Person,
        browser: u8,
        logged_in: bool,
        arrival: &Arrival,
        start: u32,
    ) -> Self {
        WebSession {
            anonymous_id: person.web_anonymous_id(browser),
            user_id: logged_in.then(|| person.user_id()),
            user_agent: person.user_agent(browser),
            ip: person.home_ip(),
            locale: person.locale,
            campaign: arrival.campaign(&run.campaign),
            path: String::new(),
            url: String::new(),
            search: String::new(),
            title: String::new(),
            referrer: arrival.referrer().to_string(),
            current_product: None,
            pages: 0,
            clock: start,
        }
    }

    /// Only the landing page carries the UTM parameters, as in a real shop.
    fn on_landing_page(&self) -> bool {
        self.pages == 1
    }

    fn write_identity(&self, event: &mut JsonObject<'_>) {
        event
            .str("anonymousId", &self.anonymous_id)
            .opt_str("userId", self.user_id.as_deref());
    }

    fn write_context(&self, event: &mut JsonObject<'_>) {
        let mut context = event.object("context");
        context
            .object("library")
            .str("name", "analytics.js")
            .str("version", LIBRARY_VERSION);
        context
            .str("userAgent", self.user_agent)
            .str("ip", &self.ip)
            .str("locale", self.locale);
        {
            let mut page = context.object("page");
            page.str("path", &self.path).str("referrer", &self.referrer);
            if !self.search.is_empty() {
                page.str("search", &self.search);
            }
            page.str("title", &self.title).str("url", &self.url);
        }
        if let (true, Some(campaign)) = (self.on_landing_page(), &self.campaign) {
            let mut campaign_context = context.object("campaign");
            campaign_context
                .str("source", campaign.source)
                .str("medium", campaign.medium)
                .str("name", &campaign.name)
                .opt_str("content", campaign.content);
        }
    }

    fn view(&mut self, run: &mut Run, page: Page) {
        if self.pages > 0 {
            self.referrer = std::mem::take(&mut self.url);
            self.clock = random_later(&mut run.rng, self.clock, 6_000..150_000);
        }
        self.pages += 1;
        self.path = page.path();
        self.title = page.title();
        self.search = match (&self.campaign, self.on_landing_page()) {
            (Some(campaign), true) => campaign.query(),
            _ => String::new(),
        };
        self.url = format!("{ORIGIN}{}{}", self.path, self.search);
        self.current_product = match page {
            Page::Product(product) => Some(product),
            _ => None,
        };
        {
            let mut event = run.out.event(Source::WebShop, EventType::Page, self.clock);
            self.write_identity(&mut event);
            event.str("name", page.name());
            {
                let mut properties = event.object("properties");
                properties
                    .str("path", &self.path)
                    .str("referrer", &self.referrer);
                if !self.search.is_empty() {
                    properties.str("search", &self.search);
                }
                properties.str("title", &self.title).str("url", &self.url);
            }
            self.write_context(&mut event);
        }
        if let Page::Product(product) = page {
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
        self.clock = random_later(&mut run.rng, self.clock, 300..4_000);
        let mut event = run.out.event(Source::WebShop, EventType::Track, self.clock);
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
            .event(Source::WebShop, EventType::Identify, self.clock);
        self.write_identity(&mut event);
        write_profile_traits(&mut event.object("traits"), person);
        self.write_context(&mut event);
    }

    fn alias(&mut self, run: &mut Run) {
        let Some(user_id) = self.user_id.clone() else {
            return;
        };
        self.clock = random_later(&mut run.rng, self.clock, 50..500);
        let mut event = run.out.event(Source::WebShop, EventType::Alias, self.clock);
        event
            .str("previousId", &self.anonymous_id)
            .str("userId", &user_id);
        self.write_context(&mut event);
    }
}

fn landing_page(run: &mut Run, arrival: &Arrival, goal: &Goal<'_>) -> Page {
    if let Goal::Purchase(order) = goal
        && !matches!(arrival, Arrival::Direct)
        && run.rng.random_bool(0.7)
    {
        return Page::Product(order.lines[0].product);
    }
    let draw = run.rng.random::<f64>();
    let (product_share, category_share) = match arrival {
        Arrival::Direct => (0.25, 0.1),
        Arrival::OrganicSearch { .. } => (0.5, 0.3),
        Arrival::Email { .. } => (0.5, 0.5),
        Arrival::Social { .. } | Arrival::Referral { .. } | Arrival::Paid { .. } => (0.6, 0.3),
    };
    if draw < product_share {
        Page::Product(catalog::random_product(&mut run.rng))
    } else if draw < product_share + category_share {
        Page::Category(catalog::random_category(&mut run.rng))
    } else {
        Page::Home
    }
}

/// A visit to the shop; returns when it ended (milliseconds since midnight).
pub(crate) fn session(
    run: &mut Run,
    person: &Person,
    browser: u8,
    logged_in: bool,
    arrival: &Arrival,
    goal: Goal<'_>,
    start: u32,
) -> u32 {
    let mut session = WebSession::new(run, person, browser, logged_in, arrival, start);
    let landing = landing_page(run, arrival, &goal);
    session.view(run, landing);
    match goal {
        Goal::Browse => browse(run, &mut session),
        Goal::Purchase(order) => purchase(run, &mut session, order),
        Goal::SignUp { alias } => sign_up(run, &mut session, person, alias),
    }
    session.clock
}

fn add_to_cart(run: &mut Run, session: &mut WebSession, product: &'static Product, quantity: u64) {
    session.track(run, "Product Added", |properties| {
        catalog::write_product(properties, product);
        properties.u64("quantity", quantity).str("currency", "EUR");
    });
}

fn browse(run: &mut Run, session: &mut WebSession) {
    let mut cart: Vec<&'static Product> = Vec::new();
    loop {
        if let Some(product) = session.current_product
            && run.rng.random_bool(0.12)
        {
            add_to_cart(run, session, product, 1);
            cart.push(product);
        }
        if session.pages >= MAX_PAGES || !run.rng.random_bool(CONTINUE_BROWSING) {
            break;
        }
        let draw = run.rng.random::<f64>();
        let page = if draw < 0.5 {
            Page::Product(catalog::random_product(&mut run.rng))
        } else if draw < 0.75 {
            Page::Category(catalog::random_category(&mut run.rng))
        } else if draw < 0.85 || cart.is_empty() {
            Page::Home
        } else {
            Page::Cart
        };
        session.view(run, page);
    }
    // Most carts are abandoned; some get as far as the checkout.
    if !cart.is_empty() && run.rng.random_bool(0.35) {
        session.view(run, Page::Checkout);
        let value_cents: u64 = cart.iter().map(|product| product.price_cents).sum();
        session.track(run, "Checkout Started", |properties| {
            properties
                .money("value", value_cents)
                .str("currency", "EUR");
            let mut products = properties.array("products");
            for product in &cart {
                catalog::write_product(&mut products.object(), product);
            }
        });
    }
}

fn purchase(run: &mut Run, session: &mut WebSession, order: &Order) {
    for line in &order.lines {
        let already_here = session
            .current_product
            .is_some_and(|product| std::ptr::eq(product, line.product));
        if !already_here {
            session.view(run, Page::Product(line.product));
        }
        add_to_cart(run, session, line.product, line.quantity);
    }
    session.view(run, Page::Cart);
    session.view(run, Page::Checkout);
    session.track(run, "Checkout Started", |properties| {
        write_order_properties(properties, order);
    });
    // Paying takes a while.
    session.clock = random_later(&mut run.rng, session.clock, 30_000..240_000);
    session.track(run, "Order Completed", |properties| {
        write_order_properties(properties, order);
    });
    session.view(run, Page::Confirmation);
}

pub(crate) fn write_order_properties(properties: &mut JsonObject<'_>, order: &Order) {
    properties
        .str("order_id", &order.order_id)
        .money("total", order.revenue_cents)
        .money("revenue", order.revenue_cents)
        .str("currency", "EUR");
    catalog::write_order_products(&mut properties.array("products"), order);
}

fn sign_up(run: &mut Run, session: &mut WebSession, person: &Person, alias: bool) {
    for _ in 0..run.rng.random_range(0..=2) {
        let product = catalog::random_product(&mut run.rng);
        session.view(run, Page::Product(product));
    }
    session.view(run, Page::SignUp);
    session.identify(run, person);
    let plan = person.plan;
    session.track(run, "Signed Up", |properties| {
        properties.str("method", "email").str("plan", plan);
    });
    if alias {
        session.alias(run);
    }
}

/// A returning customer logging in on a browser that does not know them yet.
pub(crate) fn log_in(run: &mut Run, person: &Person, browser: u8, start: u32) -> u32 {
    let mut session = WebSession::new(run, person, browser, false, &Arrival::Direct, start);
    session.view(run, Page::Home);
    session.view(run, Page::LogIn);
    session.identify(run, person);
    session.track(run, "Signed In", |properties| {
        properties.str("method", "email");
    });
    session.clock
}
