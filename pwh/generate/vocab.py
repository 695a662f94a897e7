"""Static word lists the generator draws from: names, places, product vocabulary, magazine themes.

Kept apart from the logic so the other modules stay short. Everything here is plain data; order
matters (indices are stored in numpy arrays), so only append.
"""

from __future__ import annotations

from typing import NamedTuple

# --- people -------------------------------------------------------------------------------------------

FIRST_NAMES_F = (
    "Emma", "Olivia", "Sophie", "Charlotte", "Amelia", "Isla", "Hannah", "Laura", "Anna", "Julia", "Lena",
    "Marie", "Clara", "Elsa", "Maja", "Ingrid", "Astrid", "Camille", "Chloe", "Manon", "Lea", "Sanne",
    "Fleur", "Eva", "Sarah", "Jessica", "Emily", "Madison", "Grace", "Zoe", "Lucy", "Alice", "Ella",
    "Freya", "Nora", "Ida", "Saga", "Louise", "Ines", "Mia",
)  # fmt: skip
FIRST_NAMES_M = (
    "Oliver", "George", "Harry", "Jack", "James", "William", "Thomas", "Daniel", "Lukas", "Felix", "Jonas",
    "Max", "Paul", "Erik", "Lars", "Oskar", "Nils", "Hugo", "Louis", "Jules", "Lucas", "Daan", "Sem",
    "Bram", "Michael", "David", "Ethan", "Noah", "Liam", "Benjamin", "Samuel", "Adam", "Leo", "Henry",
    "Arthur", "Elias", "Anton", "Gabriel", "Victor", "Tom",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright",
    "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke",
    "Miller", "Davis", "Garcia", "Martinez", "Anderson", "Moore", "Martin", "Lee", "Harris", "Clark",
    "Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann",
    "Schulz", "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
    "Persson", "Svensson", "Gustafsson", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit",
    "Durand", "Leroy", "Moreau", "Simon", "de Jong", "Jansen", "de Vries", "van den Berg", "Bakker",
    "Visser", "Smit", "Meijer", "Mulder", "Bos",
)  # fmt: skip
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me", "gmx.de",
                 "web.de", "telia.com", "orange.fr", "ziggo.nl", "btinternet.com", "aol.com")  # fmt: skip
STREET_NAMES = (
    "Oak", "Mill", "Church", "High", "Station", "Park", "King", "Queen", "Victoria", "Lake", "Garden",
    "Birch", "Maple", "Elm", "Cedar", "Hill", "River", "Spring", "Market", "North", "Linden", "Rosen", "Berg",
    "Sjo", "Kyrk", "Tulp", "Molen", "Lilas", "Pins", "Tilleul",
)  # fmt: skip
# (long form, abbreviation) pairs: duplicates of a CRM record sometimes abbreviate
STREET_ABBREVIATIONS = (("Street", "St"), ("Road", "Rd"), ("Avenue", "Ave"), ("Lane", "Ln"), ("Drive", "Dr"),
                        ("strasse", "str."), ("gatan", "g."), ("straat", "str."), ("avenue", "av."),
                        ("rue", "r."))  # fmt: skip


class Country(NamedTuple):
    code: str
    name: str  # long form, used by messy CRM records
    weight: float
    currency: str
    utc_offset_min: int  # in January
    dial_code: str
    trunk: str  # national trunk prefix ("0"; "" for the US)
    groups: tuple[int, ...]  # digit groups of the national significant number
    nsn_prefixes: tuple[str, ...]
    cities: tuple[str, ...]
    street_format: str  # {num} {name} {suffix}
    street_suffixes: tuple[str, ...]
    postcode: str  # pattern: 9 = digit, A = letter


COUNTRIES = (
    Country("GB", "United Kingdom", 0.26, "GBP", 0, "44", "0", (2, 4, 4), ("20", "16", "13"),
            ("London", "Manchester", "Bristol", "Leeds", "Glasgow", "Brighton"), "{num} {name} {suffix}",
            ("Street", "Road", "Avenue", "Lane", "Drive"), "AA9 9AA"),
    Country("US", "United States", 0.20, "USD", -300, "1", "", (3, 3, 4), ("212", "646", "718", "917"),
            ("New York", "Brooklyn", "Jersey City", "Boston", "Philadelphia"), "{num} {name} {suffix}",
            ("Street", "Road", "Avenue", "Lane", "Drive"), "99999"),
    Country("DE", "Germany", 0.18, "EUR", 60, "49", "0", (2, 4, 4), ("30", "40", "89"),
            ("Berlin", "Hamburg", "Munich", "Cologne", "Leipzig"), "{name}{suffix} {num}", ("strasse",),
            "99999"),
    Country("SE", "Sweden", 0.12, "SEK", 60, "46", "0", (1, 3, 3, 2), ("8",),
            ("Stockholm", "Gothenburg", "Malmo", "Uppsala"), "{name}{suffix} {num}", ("gatan",), "999 99"),
    Country("FR", "France", 0.14, "EUR", 60, "33", "0", (1, 2, 2, 2, 2), ("1", "6"),
            ("Paris", "Lyon", "Marseille", "Lille", "Nantes"), "{num} {suffix} des {name}",
            ("rue", "avenue"), "99999"),
    Country("NL", "Netherlands", 0.10, "EUR", 60, "31", "0", (2, 3, 4), ("20", "10"),
            ("Amsterdam", "Rotterdam", "Utrecht", "The Hague"), "{name}{suffix} {num}", ("straat",),
            "9999 AA"),
)  # fmt: skip

# EUR is the catalog currency; event and order prices are converted with these fixed rates
CURRENCIES = ("EUR", "USD", "GBP", "SEK")
EUR_RATES = (1.0, 1.08, 0.86, 11.2)

# --- devices ------------------------------------------------------------------------------------------


class Device(NamedTuple):
    channel: str  # web | ios | android
    type: str
    os: str
    browser: str | None  # None for native apps
    user_agent: str


_WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
_IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
_IPAD = "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
_ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
_ANDROID_TAB = "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko)"
# the first WEB_DEVICES entries are browsers: every person owns at least one of those (device 0)
DEVICES = (
    Device("web", "desktop", "Windows", "Chrome", f"{_WIN} Chrome/120.0.0.0 Safari/537.36"),
    Device("web", "desktop", "Windows", "Edge", f"{_WIN} Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91"),
    Device("web", "desktop", "macOS", "Safari", f"{_MAC} Version/17.2 Safari/605.1.15"),
    Device("web", "desktop", "macOS", "Chrome", f"{_MAC} Chrome/120.0.0.0 Safari/537.36"),
    Device("web", "desktop", "Linux", "Firefox",
           "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"),
    Device("web", "mobile", "iOS", "Safari", f"{_IPHONE} Version/17.2 Mobile/15E148 Safari/604.1"),
    Device("web", "mobile", "Android", "Chrome", f"{_ANDROID} Chrome/120.0.6099.144 Mobile Safari/537.36"),
    Device("web", "tablet", "iPadOS", "Safari", f"{_IPAD} Version/17.2 Mobile/15E148 Safari/604.1"),
    Device("web", "tablet", "Android", "Chrome", f"{_ANDROID_TAB} Chrome/120.0.6099.144 Safari/537.36"),
    Device("ios", "mobile", "iOS", None, "ShopApp/4.12 (iPhone; iOS 17.2)"),
    Device("ios", "tablet", "iPadOS", None, "ShopApp/4.12 (iPad; iPadOS 17.2)"),
    Device("android", "mobile", "Android", None, "ShopApp/4.12 (Android 14; Pixel 8)"),
)  # fmt: skip
WEB_DEVICES = 9
DEVICE_WEIGHTS = (0.2, 0.06, 0.1, 0.06, 0.03, 0.17, 0.14, 0.05, 0.03, 0.08, 0.02, 0.06)
BOT_USER_AGENTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "python-requests/2.31.0",
    "curl/8.4.0",
)

# --- catalog ------------------------------------------------------------------------------------------


class Category(NamedTuple):
    name: str
    median_price_eur: float
    brands: tuple[str, ...]
    nouns: tuple[str, ...]
    adjectives: tuple[str, ...]
    tags: tuple[str, ...]
    theme: str  # the magazine theme people who like this category tend to read


CATEGORIES = (
    Category("electronics", 89.0, ("Voltix", "Nordlyd", "Pixelon", "Ampere", "Sonora"),
             ("headphones", "speaker", "charger", "smartwatch", "keyboard", "webcam", "power bank",
              "earbuds", "monitor", "router"),
             ("wireless", "noise cancelling", "portable", "compact", "smart", "fast", "ultra slim"),
             ("bluetooth", "usb-c", "gadget", "audio", "smart-home", "wearable"), "tech"),
    Category("books", 16.0, ("Inkwell Press", "Northern Pages", "Lantern Books", "Paperfox"),
             ("novel", "cookbook", "travel guide", "biography", "thriller", "poetry collection",
              "history book", "comic", "self-help book"),
             ("bestselling", "illustrated", "hardcover", "paperback", "annotated", "award-winning"),
             ("fiction", "non-fiction", "reading", "gift", "kids-books", "classics"), "parenting"),
    Category("home", 45.0, ("Hemma", "Casa Bella", "Oakroom", "Linnea"),
             ("lamp", "cushion", "blanket", "vase", "frying pan", "knife set", "coffee maker", "rug",
              "storage box", "candle"),
             ("scandinavian", "ceramic", "linen", "cast iron", "handmade", "minimalist", "cosy"),
             ("kitchen", "decor", "living-room", "cooking", "interior", "eco"), "cooking"),
    Category("fashion", 55.0, ("Nordwear", "Maison Lune", "Urban Fox", "Kestrel", "Alba"),
             ("jacket", "sneakers", "dress", "jeans", "scarf", "sweater", "boots", "t-shirt", "handbag"),
             ("slim fit", "organic cotton", "wool", "vintage", "oversized", "waterproof", "classic"),
             ("menswear", "womenswear", "streetwear", "accessories", "winter", "sustainable"), "fashion"),
    Category("sports", 60.0, ("Peakform", "Stride", "Aqualine", "Trailhead"),
             ("running shoes", "yoga mat", "dumbbells", "bike helmet", "tennis racket", "football",
              "swimsuit", "hiking backpack", "water bottle"),
             ("lightweight", "pro", "breathable", "adjustable", "durable", "trail"),
             ("running", "fitness", "outdoor", "cycling", "training", "team-sports"), "sport"),
    Category("beauty", 25.0, ("Glowe", "Pure Nord", "Velvet & Co", "Botanica"),
             ("face cream", "serum", "shampoo", "lipstick", "perfume", "sunscreen", "face mask",
              "hair oil"),
             ("hydrating", "vegan", "organic", "fragrance-free", "anti-ageing", "natural"),
             ("skincare", "haircare", "makeup", "fragrance", "wellness", "cruelty-free"), "fashion"),
    Category("toys", 30.0, ("Toyverse", "Little Owl", "Brickworks", "Funfair"),
             ("building set", "puzzle", "plush bear", "board game", "toy car", "doll house",
              "science kit", "wooden train"),
             ("educational", "wooden", "colourful", "classic", "interactive", "family"),
             ("kids", "baby", "learning", "games", "gift", "outdoor-play"), "parenting"),
    Category("grocery", 9.0, ("Fjord Foods", "La Cucina", "Green Basket", "Bean & Leaf"),
             ("coffee beans", "olive oil", "pasta", "granola", "dark chocolate", "green tea", "honey",
              "spice mix"),
             ("organic", "fair trade", "italian", "artisan", "gluten-free", "single origin"),
             ("food", "pantry", "organic", "breakfast", "vegan", "gourmet"), "cooking"),
)  # fmt: skip
GENERIC_TAGS = ("new", "sale", "bestseller", "gift-idea", "limited")

# --- magazine (access logs) ---------------------------------------------------------------------------

THEMES = ("music", "sport", "cooking", "travel", "parenting", "tech", "fashion", "finance")
THEME_WORDS = {
    "music": ("playlist", "album", "guitar", "concert", "festival", "vinyl", "jazz", "band", "singer",
              "songwriting", "piano", "headliners", "chords", "tour", "hip-hop", "orchestra"),
    "sport": ("marathon", "football", "training", "cycling", "tennis", "workout", "league", "coach",
              "stretching", "olympic", "climbing", "skiing", "goalkeeper", "cardio", "race"),
    "cooking": ("pasta", "recipe", "baking", "sourdough", "weeknight", "dinner", "soup", "vegan",
                "bread", "kitchen", "curry", "dessert", "roast", "salad", "spices"),
    "travel": ("city-break", "beaches", "itinerary", "hotels", "backpacking", "road-trip", "islands",
               "flights", "hiking", "lisbon", "kyoto", "iceland", "packing", "weekend-away", "camping"),
    "parenting": ("toddler", "newborn", "bedtime", "school", "teenagers", "baby", "family", "homework",
                  "tantrums", "pregnancy", "nursery", "siblings", "kids", "playtime", "screen-time"),
    "tech": ("smartphone", "laptop", "ai", "gadgets", "privacy", "wifi", "apps", "coding", "robots",
             "smart-home", "battery", "software", "chips", "cloud", "headphones"),
    "fashion": ("outfits", "trends", "denim", "sneakers", "wardrobe", "runway", "skincare", "style",
                "capsule", "knitwear", "accessories", "vintage", "tailoring", "makeup", "street-style"),
    "finance": ("savings", "budget", "mortgage", "investing", "pension", "stocks", "inflation", "taxes",
                "credit", "index-funds", "retirement", "debt", "interest-rates", "salary", "crypto"),
}  # fmt: skip
# words that say nothing about the theme, so a slug can be ambiguous
NEUTRAL_WORDS = ("best", "guide", "ultimate", "simple", "why", "how", "easy", "new", "better", "top",
                 "secrets", "mistakes", "beginners", "everything", "week", "ideas", "truth", "2026",
                 "lessons", "real", "quick", "little", "big", "future")  # fmt: skip
TITLE_TEMPLATES = (
    "{n} {W} ideas you will love", "The ultimate guide to {w}", "Why {w} matters more than ever",
    "{W}: what nobody tells you", "How to get started with {w}", "{W} and {w2}, explained",
    "Our favourite {w} this week", "{n} mistakes to avoid with {w}", "{W} for {w2} lovers",
)  # fmt: skip
