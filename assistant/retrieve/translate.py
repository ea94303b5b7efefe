"""Spanish questions over an English corpus: detect the language, add English search terms.

The embedding model (all-MiniLM-L6-v2) is English-only and BM25 matches English stems, so a
Spanish question finds little as typed. Without a network or a translation model, the question is
glossed word by word with a bilingual glossary of the domain's vocabulary (trade, tariffs,
agriculture, labor, energy, autos, rules of origin, investment, migration, security, numbers,
question words ...). Multi-word terms ("reglas de origen", "mil millones") are matched first;
Spanish function words are dropped; words the glossary does not know (names, numbers, identifiers,
cognates such as "Sheinbaum", "2024", "2.11") are kept as typed.

The search text is that English gloss alone by default. Measured on 24 Spanish questions over the
brief + treaty + law + proclamations (hybrid retrieval, hit@5 / hit@1): as typed 12 / 2, original +
gloss 22 / 18, gloss alone 23 / 21. Spanish words add noise to the English embedding and, in the
extractive answerer, count as query terms the corpus never uses (the highest idf), so they also
depress sentence scores. `keep_original=True` gives original + gloss.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from assistant.index.lexical import tokenize

# ---- language detection ---------------------------------------------------------------------

# Words that are common in Spanish questions and rare as English words (accents folded).
def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ES_MARKERS = _wordset(
    "el la los las un una unos unas del al de que cual cuales cuanto cuanta cuantos cuantas quien quienes "
    "como donde cuando por para con sin sobre segun entre hacia desde hasta es son fue fueron esta estan "
    "ha han hay sus su se lo le les y o pero tambien mas muy este esta estos estas ese esa eso informe "
    "dice dicen puede pueden debe deben deberia segun año años cada"
)
_EN_MARKERS = _wordset(
    "the of and to in is are was were what which who how does do did why when where with for on by "
    "this that these those it its from as be has have had should would could"
)
_ACCENTED = re.compile(r"[áéíóúñü¿¡]", re.I)
_TOKEN = re.compile(r"[a-záéíóúñü]+(?:[.\-][a-záéíóúñü]+)*\.?|\d+(?:[.,]\d+)*", re.I)


def fold(text: str) -> str:
    """Lower-case without diacritics: "Energía" -> "energia"."""
    t = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in t if not unicodedata.combining(ch))


def question_language(question: str) -> str:
    """"es" or "en", from inverted punctuation, accents and function words (no model, no network)."""
    if re.search(r"[¿¡]", question):
        return "es"
    tokens = [fold(t) for t in re.findall(r"[A-Za-zÁÉÍÓÚÑÜáéíóúñü]+", question)]
    es = sum(t in _ES_MARKERS for t in tokens)
    en = sum(t in _EN_MARKERS for t in tokens)
    es += 0.5 * len(_ACCENTED.findall(question))
    return "es" if es >= 2 and es > en else "en"


# ---- glossary -------------------------------------------------------------------------------

# Multi-word terms first (folded Spanish -> English), longest match wins.
PHRASES: dict[str, str] = {
    "estados unidos": "United States U.S.",
    "ee. uu.": "United States U.S.",
    "ee.uu.": "United States U.S.",
    "ee uu": "United States U.S.",
    "america del norte": "North America",
    "norteamerica": "North America",
    "el informe": "the brief", "del informe": "the brief", "este informe": "the brief",
    "reglas de origen": "rules of origin",
    "regla de origen": "rules of origin",
    "normas de origen": "rules of origin",
    "contenido regional": "regional value content",
    "valor de contenido regional": "regional value content",
    "valor de contenido laboral": "labor value content",
    "contenido laboral": "labor value content",
    "de minimis": "de minimis",
    "mecanismo de respuesta rapida": "Rapid Response Mechanism RRM",
    "mecanismo laboral de respuesta rapida": "Rapid Response Mechanism RRM",
    "respuesta rapida": "Rapid Response Mechanism",
    "solucion de controversias": "dispute settlement",
    "solucion de disputas": "dispute settlement",
    "inversionista-estado": "investor-state",
    "inversionista estado": "investor-state",
    "revision conjunta": "joint review",
    "cadena de suministro": "supply chain",
    "cadenas de suministro": "supply chains",
    "cadenas de valor": "value chains supply chains",
    "socio comercial": "trading partner",
    "socios comerciales": "trading partners",
    "balanza comercial": "trade balance",
    "deficit comercial": "trade deficit",
    "superavit comercial": "trade surplus",
    "libre comercio": "free trade",
    "tratado de libre comercio": "free trade agreement",
    "tlcan": "NAFTA",
    "t-mec": "USMCA",
    "tmec": "USMCA",
    "trato nacional": "national treatment",
    "acceso a mercados": "market access",
    "acceso al mercado": "market access",
    "contingente arancelario": "tariff-rate quota TRQ",
    "contingentes arancelarios": "tariff-rate quotas TRQ",
    "devolucion de aranceles": "drawback",
    "tasa arancelaria": "tariff rate duty",
    "libre de aranceles": "duty-free",
    "sin arancel": "duty-free without customs duty",
    "sin aranceles": "duty-free without customs duties",
    "libre de impuestos": "duty-free",
    "mil millones": "billion",
    "miles de millones": "billions",
    "por ciento": "percent",
    "por cierto": "",
    "gas natural": "natural gas",
    "energia renovable": "renewable energy",
    "energias renovables": "renewable energy",
    "comision federal de electricidad": "Federal Electricity Commission CFE",
    "autopartes": "auto parts",
    "partes automotrices": "auto parts",
    "piezas de automovil": "auto parts",
    "vehiculos usados": "used vehicles",
    "camionetas pick-up": "pickup trucks",
    "camionetas pickup": "pickup trucks",
    "crimen organizado": "organized crime",
    "delincuencia organizada": "organized crime",
    "seguridad nacional": "national security",
    "semillas oleaginosas": "oilseeds",
    "bebidas alcoholicas": "spirits",
    "educacion secundaria": "secondary education",
    "propiedad intelectual": "intellectual property",
    "transferencia de tecnologia": "technology transfer",
    "tecnologias de la informacion": "information technology",
    "tecnologia de la informacion": "information technology",
    "representante comercial": "Trade Representative USTR",
    "secretario de comercio": "Commerce Secretary",
    "banco mundial": "World Bank",
    "sector privado": "private sector",
    "ciudades fronterizas": "border cities",
    "mano de obra": "labor workers",
    "salario minimo": "minimum wage",
    "salarios minimos": "minimum wage",
    "alto salario": "high-wage",
    "altos salarios": "high-wage",
    "vigencia del tratado": "term of the agreement",
    "por que": "why",
    "a cuanto": "how much",
    "cuanto tiempo": "how long",
    "con que frecuencia": "how often",
    "que tan": "how",
    "que porcentaje": "what percent share",
    "que proporcion": "what share",
    "sin embargo": "however",
    "a traves": "through",
    "dia de la liberacion": "Liberation Day",
    "seccion 232": "Section 232",
    "estado de derecho": "rule of law",
    "ayuda exterior": "foreign aid",
    "gasto social": "social spending",
    "grupo de expertos": "expert board",
    "junta de expertos": "expert board",
    "comite laboral": "labor committee",
    "comite interinstitucional": "interagency committee",
    "valor agregado": "value-added",
    "valor anadido": "value-added",
    "patrulla fronteriza": "Border Patrol",
    "tipo de cambio": "exchange rate",
    "no originario": "non-originating", "no originarios": "non-originating",
    "no originaria": "non-originating", "no originarias": "non-originating",
    "jarabe de arce": "maple syrup", "azucar de arce": "maple sugar",
    "orden ejecutiva": "executive order",
    "carta paralela": "side letter", "cartas paralelas": "side letters",
    "inversion extranjera": "foreign investment",
    "comercio minorista": "retail",
    "servicios financieros": "financial services",
    "dias habiles": "business days",
    "plazo de entrega": "delivery period",
    "en manos de": "held by",
}

# Single words (folded). Plurals and feminine forms are reduced before lookup (see `_lookup`).
WORDS: dict[str, str] = {

    # general governance, trade and industry vocabulary (added 2026-11-28)
    "miembro": "members", "miembros": "members", "integrante": "members", "integrantes": "members",
    "junta": "board", "independiente": "independent", "experto": "expert", "expertos": "experts",
    "mandato": "term mandate", "duracion": "term duration", "dura": "lasts term", "durar": "last",
    "lista": "schedule list", "listas": "schedules lists", "jarabe": "syrup", "arce": "maple",
    "caso": "case", "casos": "cases", "llevado": "brought", "llevar": "bring",
    "dependiente": "dependent", "distinto": "other different", "distintos": "other different",
    "invierta": "invest", "invirtio": "invested", "invertido": "invested", "invierte": "invests",
    "perdio": "lost", "perdida": "loss", "perdidas": "losses", "publico": "published",
    "publicado": "published", "entrevista": "interview", "medio": "outlet media", "privado": "private",
    "privada": "private", "manos": "hands", "quedar": "remain", "pais": "country", "paises": "countries",
    "manufacturero": "manufacturing", "detuvo": "apprehended detained", "detener": "detain",
    "detenido": "detained", "sube": "rises increases", "subir": "rise increase",
    "transporte": "transport", "equipo": "equipment", "feria": "fair exhibition", "exhibicion": "exhibition",
    "garantia": "bond guarantee", "temporal": "temporary", "temporalmente": "temporarily",
    "reparado": "repaired", "reparar": "repair", "alterado": "altered", "reimportar": "re-import",
    "reimportacion": "re-import", "muestras": "samples", "pelicula": "films", "peliculas": "films",
    "bateria": "batteries", "baterias": "batteries", "ion": "ion", "litio": "lithium",
    "catalitico": "catalytic", "convertidor": "converters", "computadora": "computers",
    "servidor": "servers", "laptop": "laptops", "hidrocarburo": "hydrocarbons",
    "eolica": "wind", "solar": "solar", "petrolera": "oil", "refineria": "refinery",
    "remesa": "remittances", "remesas": "remittances", "arbitraje": "arbitration",
    "peticion": "petition", "solicitud": "request", "solicitar": "request", "denegar": "deny",
    "negar": "deny", "liquidacion": "liquidation", "entrada": "entry", "salida": "withdrawal exit",
    "notifica": "notifies", "copresidido": "co-chaired", "encabeza": "heads leads",
    "trimestral": "quarterly", "semestral": "biannual",
    "protocolo": "protocol", "reglamento": "regulations", "inciso": "subparagraph",
    "fraccion": "clause", "clausula": "clause", "camara": "House", "diputados": "Representatives",
    "embajada": "embassy", "agencia": "agency", "asignado": "assigned", "personal": "staff",
    "ambiental": "environmental", "ambiente": "environment", "medioambiente": "environment",
    "pesca": "fishing fish", "pescado": "fish", "madera": "lumber wood", "leche": "milk dairy",
    "lacteos": "dairy", "pollo": "chicken poultry", "huevo": "eggs", "huevos": "eggs",
    "trigo": "wheat", "arroz": "rice", "azucarero": "sugar", "cafe": "coffee", "vino": "wine",
    "helado": "ice cream", "chocolate": "chocolate", "mantequilla": "butter",
    # question words
    "que": "what", "cual": "what which", "cuales": "which", "quien": "who", "quienes": "who",
    "cuanto": "how much", "cuanta": "how much", "cuantos": "how many", "cuantas": "how many",
    "cuando": "when", "donde": "where", "como": "how", "porque": "because", "si": "whether",
    # the corpus and its documents
    "informe": "brief report", "documento": "document", "autor": "author", "autora": "author",
    "escribio": "wrote author", "escrito": "written", "fuente": "source", "fuentes": "sources",
    "cita": "cites source", "citar": "cite", "estudio": "study", "nota": "footnote note",
    "tratado": "treaty agreement", "acuerdo": "agreement", "capitulo": "chapter", "articulo": "article",
    "anexo": "annex", "apendice": "appendix", "seccion": "section", "ley": "law act", "proclamacion": "proclamation",
    "parrafo": "paragraph", "figura": "figure", "grafico": "graph figure", "tabla": "table",
    "recomienda": "recommends recommendation", "recomendar": "recommend", "recomendacion": "recommendation",
    "propone": "proposes", "propuesta": "proposal", "sugiere": "suggests", "dice": "says", "afirma": "says",
    "segun": "according", "argumenta": "argues", "conclusion": "conclusion",
    # trade
    "comercio": "trade", "comercial": "trade commercial", "intercambio": "trade exchange", "arancel": "tariff",
    "aranceles": "tariffs", "arancelario": "tariff", "gravamen": "duty tariff", "impuesto": "tax duty",
    "derecho": "duty", "derechos": "duties", "cuota": "quota", "exportacion": "exports export",
    "exportaciones": "exports", "exportar": "export", "exporta": "exports", "exportador": "exporter",
    "importacion": "imports import", "importaciones": "imports", "importar": "import", "importa": "imports",
    "importador": "importer", "bilateral": "bilateral", "mercado": "market", "mercancia": "goods",
    "mercancias": "goods", "bienes": "goods", "producto": "products", "productos": "products",
    "originario": "originating", "origen": "origin", "aduana": "customs", "aduanero": "customs",
    "represalia": "retaliatory retaliation", "reciproco": "reciprocal", "apilar": "stacked stacking",
    "acumular": "stacked", "reembolso": "reimbursement refund", "compensacion": "offset",
    "antidumping": "antidumping", "dumping": "dumping", "salvaguardia": "safeguard",
    "socio": "partner", "deficit": "deficit", "superavit": "surplus", "balanza": "balance",
    "tarifa": "tariff rate", "tasa": "rate", "nacion": "nation", "favorecida": "favored",
    "usado": "used", "usados": "used", "remanufacturado": "remanufactured",
    "licencia": "licensing license", "permiso": "permit license", "restriccion": "restriction",
    "prohibir": "prohibit", "bloquear": "block prohibit", "prohibicion": "prohibition",
    # agriculture
    "agricola": "agricultural agriculture", "agricultura": "agriculture", "agropecuario": "agricultural",
    "agroalimentario": "agricultural food", "granja": "farm", "agricultor": "farmers", "campo": "farm rural",
    "grano": "grains", "granos": "grains", "carne": "meat", "fruta": "fruits", "frutas": "fruits",
    "verdura": "vegetables", "verduras": "vegetables", "hortaliza": "vegetables", "hortalizas": "vegetables",
    "queso": "cheese", "lacteo": "dairy", "maiz": "corn", "transgenico": "genetically modified GMO",
    "semilla": "seeds", "tomate": "tomato", "jitomate": "tomato", "azucar": "sugar", "alimento": "food",
    "alimentos": "food", "licor": "spirits", "tequila": "tequila spirits", "cerveza": "beer beverages",
    "bebida": "beverages",
    # labor
    "trabajo": "labor work jobs", "laboral": "labor", "trabajador": "workers", "obrero": "workers",
    "empleo": "jobs employment", "empleos": "jobs", "desempleo": "joblessness unemployment",
    "salario": "wages wage", "sueldo": "wages", "sindicato": "union", "sindical": "union",
    "huelga": "strike", "despido": "terminated dismissal", "reinstalacion": "reinstatement",
    "reclamacion": "complaint", "queja": "complaint", "denuncia": "complaint petition",
    "instalacion": "facility", "fabrica": "factory plant", "planta": "plant facility",
    "supervision": "monitoring", "vigilancia": "monitoring surveillance", "monitoreo": "monitoring",
    "agregado": "attache", "suspension": "suspend furloughs", "licenciamiento": "furloughs",
    # energy
    "energia": "energy", "energetico": "energy", "electricidad": "electricity", "electrico": "electric electricity",
    "petroleo": "oil petroleum", "crudo": "crude oil", "refinado": "refined", "gasolina": "gasoline refined petroleum",
    "gas": "gas", "renovable": "renewable", "electrica": "electricity", "red": "grid", "generacion": "generation",
    "transmision": "transmission", "monopolio": "monopoly", "pemex": "PEMEX", "cfe": "CFE",
    # autos and industry
    "automovil": "automobiles autos", "automoviles": "automobiles", "auto": "auto", "autos": "autos cars",
    "coche": "cars", "carro": "cars", "vehiculo": "vehicles", "vehiculos": "vehicles",
    "automotriz": "automotive auto", "automotor": "automotive", "camioneta": "pickup trucks light trucks",
    "camion": "trucks", "motor": "engines", "transmisiones": "transmissions", "pieza": "parts",
    "piezas": "parts", "armadora": "automaker", "fabricante": "manufacturer",
    "manufactura": "manufacturing", "manufacturera": "manufacturing", "fabricacion": "manufacturing",
    "industria": "industry", "industrial": "industrial", "maquinaria": "machinery", "maquiladora": "maquiladoras",
    "acero": "steel", "aluminio": "aluminum", "electronica": "electronics", "semiconductor": "semiconductors",
    "tecnologia": "technology", "ensamble": "assembly", "ensamblaje": "assembly", "ensamblado": "assembly",
    "relocalizacion": "reshoring nearshoring", "deslocalizacion": "offshoring", "nearshoring": "nearshoring",
    "reshoring": "reshoring", "cadena": "chain", "suministro": "supply", "insumo": "inputs",
    "insumos": "inputs", "intermedio": "intermediate", "contenido": "content", "extranjero": "foreign",
    # investment and economy
    "inversion": "investment", "invertir": "invest", "inversionista": "investor", "inversor": "investor",
    "economia": "economy", "economico": "economic", "crecimiento": "growth", "crecer": "grow",
    "crecio": "grew growth", "aumento": "increase rise", "aumentar": "increase", "disminucion": "decline",
    "caida": "decline fall", "valor": "value", "monto": "amount", "total": "total", "acervo": "stock",
    "stock": "stock", "peso": "peso", "dolar": "dollar", "dolares": "dollars", "precio": "prices",
    "ganancia": "profit", "utilidad": "profit", "empresa": "firms companies", "compania": "companies",
    "servicio": "services", "servicios": "services", "turismo": "tourism", "salud": "healthcare health",
    "entretenimiento": "entertainment", "financiero": "financial", "venta": "retail sales",
    "educacion": "education", "escolaridad": "education attainment", "secundaria": "secondary",
    "poblacion": "population", "adulto": "adults", "ingreso": "income", "pobreza": "poverty",
    "riqueza": "wealth", "desarrollo": "development", "sector": "sector", "region": "region",
    # security and migration
    "seguridad": "security", "migracion": "migration", "migrante": "migrants", "migratorio": "migration migratory",
    "frontera": "border", "fronterizo": "border", "cartel": "cartels", "narcotrafico": "narcotics trafficking",
    "narcotico": "narcotics", "fentanilo": "fentanyl", "droga": "drugs narcotics", "crimen": "crime",
    "violencia": "violence", "delito": "crime", "tropa": "troops", "tropas": "troops", "soldado": "troops",
    "militar": "military troops", "dron": "drones", "drones": "drones", "soberania": "sovereignty",
    "terrorista": "terrorist", "extradicion": "transfer custody", "capo": "cartel leaders",
    # politics and institutions
    "gobierno": "government", "presidente": "president", "presidenta": "president", "administracion": "administration",
    "congreso": "congress congressional", "senado": "senate", "secretario": "secretary", "ministro": "minister",
    "canciller": "foreign minister", "embajador": "ambassador", "representante": "representative",
    "departamento": "department", "comision": "commission", "comite": "committee", "consejo": "council",
    "panel": "panel", "disputa": "dispute", "controversia": "dispute", "revision": "review",
    "renegociacion": "renegotiation", "renegociar": "renegotiate", "prorroga": "extension",
    "extension": "extension", "retiro": "withdrawal", "retirarse": "withdraw", "abandonar": "withdraw",
    "reunion": "meeting", "reunirse": "meet", "reune": "meets", "mecanismo": "mechanism",
    "diplomacia": "diplomacy", "relacion": "relationship", "cooperacion": "cooperation",
    "negociacion": "negotiation", "amenaza": "threat", "sancion": "penalty sanction", "multa": "penalty",
    "beneficio": "benefits", "preferencia": "preference", "preferencial": "preferential",
    "obligacion": "obligations", "compromiso": "commitments", "reforma": "reform",
    "constitucional": "constitutional", "popularidad": "popularity", "aprobacion": "approval",
    "mayoria": "majority", "partido": "party", "eleccion": "election",
    # countries and people
    "mexico": "Mexico", "mexicano": "Mexican", "mexicana": "Mexican", "canada": "Canada",
    "canadiense": "Canadian", "china": "China", "chino": "Chinese", "japon": "Japan", "alemania": "Germany",
    "corea": "Korea", "europa": "Europe", "europea": "European", "union": "union", "texas": "Texas",
    "estadounidense": "U.S. American", "eeuu": "United States U.S.", "eua": "United States U.S.", "washington": "Washington", "asia": "Asia", "asiatico": "Asian",
    "vietnam": "Vietnam", "india": "India",
    # size, time, numbers
    "anual": "annual annually", "anualmente": "annually", "año": "year", "ano": "year", "mes": "month",
    "dia": "day", "fecha": "date dates", "plazo": "deadline", "vigencia": "term", "desde": "since",
    "hasta": "until", "antes": "before", "despues": "after", "actual": "current", "reciente": "recent",
    "aproximado": "approximately roughly", "aproximadamente": "approximately roughly", "alrededor": "around roughly",
    "casi": "almost nearly", "mas": "more", "menos": "less", "mayor": "largest larger", "menor": "smaller",
    "principal": "main largest", "grande": "large", "segundo": "second", "tercer": "third", "primer": "first",
    "porcentaje": "percent share", "proporcion": "share proportion", "parte": "share part", "mitad": "half",
    "millon": "million", "millones": "million", "billon": "trillion", "miles": "thousands", "mil": "thousand",
    "cero": "zero", "uno": "one", "dos": "two", "tres": "three", "cuatro": "four", "cinco": "five",
    "seis": "six", "siete": "seven", "ocho": "eight", "nueve": "nine", "diez": "ten", "veinte": "twenty",
    "treinta": "thirty", "cien": "hundred", "ciento": "hundred", "doble": "double doubled",
    "maximo": "maximum ceiling", "minimo": "minimum", "limite": "ceiling limit", "tope": "ceiling cap",
    "nivel": "level",
    # verbs and adjectives that carry meaning
    "afectar": "affect impact", "impacto": "impact effect", "efecto": "effects", "perder": "lose losses",
    "pierde": "loses", "ganar": "gain", "gana": "gains", "costo": "cost", "riesgo": "risk",
    "incertidumbre": "uncertainty", "ruptura": "rupture breakdown", "colapso": "breakdown collapse",
    "integracion": "integration", "integrado": "integrated", "dependencia": "dependence",
    "depende": "depends relies", "provienen": "come from", "proviene": "comes from", "viene": "comes from",
    "envia": "ships supplies", "envian": "ship supply", "vende": "sells", "compra": "buys",
    "suministra": "supplies", "representa": "accounts for", "representan": "account for",
    "equivale": "amounts", "cambio": "change changed", "cambiar": "change", "describir": "describe",
    "describio": "described", "llamo": "called described", "calificar": "qualify", "califica": "qualifies",
    "considera": "considered counts", "cuenta": "counts accounts", "tratar": "treat", "trato": "treatment",
    "imponer": "impose", "impuso": "imposed", "aplica": "applies", "aplicar": "apply", "pagar": "pay",
    "recuperar": "recover refund", "reclamar": "claim", "vigilar": "monitor", "controlar": "control",
    "aceptar": "accept", "acepto": "accepted", "rechazo": "rejected rebuffed", "permitir": "allow",
    "permite": "allows", "exige": "requires", "requisito": "requirements", "obligatorio": "mandatory",
    "responsable": "responsible", "encargado": "in charge responsible", "dirige": "chairs runs leads",
    "preside": "chairs", "lidera": "leads", "advirtio": "warned", "advertencia": "warning",
    "sonido": "sound", "succion": "sucking", "gigante": "giant", "jugador": "player",
    "ventaja": "leverage advantage", "palanca": "leverage", "herramienta": "tools", "mejor": "better best",
    "peor": "worse", "fuerte": "strong", "debil": "weak", "barato": "cheap", "caro": "expensive",
    # months
    "enero": "January", "febrero": "February", "marzo": "March", "abril": "April", "mayo": "May",
    "junio": "June", "julio": "July", "agosto": "August", "septiembre": "September", "setiembre": "September",
    "octubre": "October", "noviembre": "November", "diciembre": "December",
    # what legal texts and reports do
    "establece": "establishes provides", "establecer": "establish", "preve": "provides", "dispone": "provides",
    "otorga": "grants", "otorgar": "grant", "cubre": "covers", "incluye": "includes", "incluir": "include",
    "excluye": "excludes", "exento": "exempt", "exencion": "exemption", "exigencia": "requirements",
    "requerimiento": "requirements", "cumplir": "comply", "cumplimiento": "compliance", "violacion": "violation",
    "incumplimiento": "noncompliance violation", "suspender": "suspend", "retirar": "withdraw",
    "firmar": "sign", "firmo": "signed", "vigor": "effect force", "entro": "entered took effect",
    "aplico": "applied imposed", "duplico": "doubled",
    "subio": "raised increased", "bajo": "lowered", "eliminar": "eliminate", "eliminacion": "elimination",
    "reducir": "reduce", "reduccion": "reduction", "concluir": "conclude concluded", "introdujo": "introduced", "introducir": "introduce", "terminar": "end",
    "devolver": "refund return", "devolucion": "refund drawback", "pagado": "paid", "pago": "payment",
    "luego": "subsequently then", "compara": "compared", "comparacion": "comparison",
    "muestra": "samples", "insignificante": "negligible", "publicidad": "advertising", "publicitario": "advertising",
    "impreso": "printed", "admision": "admission", "reparacion": "repair",
    "consultar": "consult", "consulta": "consultations", "notificar": "notify", "notificacion": "notification",
    "aviso": "notice", "publicar": "publish", "informar": "report", "audiencia": "hearing",
    "dias": "days", "lugar": "place rank", "puesto": "place rank", "ocupa": "ranks holds",
    "lider": "leaders", "entregar": "hand over transfer", "entrego": "handed over transferred",
    "custodia": "custody", "sostener": "support sustain", "sostenian": "supported", "sostiene": "supports",
    "apoyo": "support", "ayuda": "aid help", "apoyar": "support", "semana": "week", "anticipacion": "in advance before",
}

# Spanish function words: never searched (in the gloss); the original question keeps them.
_DROP = _wordset(
    "el la los las lo un una unos unas de del al a en y e o u ni se su sus le les me te nos es son era "
    "eran fue fueron ser sido esta estan estaba estaban este esta estos estas ese esa esos esas eso esto "
    "ha han he hay habia haber hace hacen hizo con sin por para sobre entre hacia tras ante bajo mediante "
    "durante contra muy tan tanto tambien pero sino mas ya aun todavia otro otra otros otras mismo misma "
    "cada todo toda todos todas algun alguna algunos algunas ningun ninguna cual cuyo cuya ello ella el "
    "ellos ellas usted ustedes nosotros hoy aqui alli puede pueden podria podrian debe deben deberia "
    "deberian tiene tienen tenia tener tuvo tuvieron hicieron segun pues asi solo sola"
) - {"como", "cuando", "donde", "que", "segun", "cual"}


def _lookup(word: str) -> str | None:
    """Glossary entry of a folded word, trying plural and gender variants ("agricolas" -> "agricola")."""
    candidates = [word]
    if word.endswith("es") and len(word) > 4:
        candidates.append(word[:-2])
    if word.endswith("s") and len(word) > 3:
        candidates.append(word[:-1])
    for c in list(candidates):
        if c.endswith("a") and len(c) > 3:
            candidates.append(c[:-1] + "o")
    for c in candidates:
        if c in WORDS:
            return WORDS[c]
    return None


_PHRASE_KEYS = sorted(PHRASES, key=len, reverse=True)


def english_gloss(question: str) -> str:
    """The question's content in English terms, in order; unknown words (names, numbers) kept."""
    text = " " + fold(question).replace("¿", " ").replace("¡", " ") + " "
    # mark multi-word terms first so their words are not glossed again one by one
    found: list[tuple[int, str]] = []
    for key in _PHRASE_KEYS:
        pattern = re.compile(rf"(?<![\w.]){re.escape(key)}(?![\w])")
        for m in pattern.finditer(text):
            found.append((m.start(), PHRASES[key]))
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    for m in _TOKEN.finditer(text):
        tok = m.group(0).rstrip(".")
        if not tok:
            continue
        if tok[0].isdigit():
            found.append((m.start(), tok))
            continue
        if tok in _DROP:
            continue
        english = _lookup(tok)
        if english is None:
            original = _original_form(question, tok)
            found.append((m.start(), original))
        elif english:
            found.append((m.start(), english))
    return " ".join(t for _, t in sorted(found) if t)


def _original_form(question: str, folded_token: str) -> str:
    """A word the glossary does not know, as the user typed it (case and accents) for names."""
    for w in re.findall(r"[\wÁÉÍÓÚÑÜáéíóúñü.\-]+", question):
        if fold(w).rstrip(".") == folded_token:
            return w.rstrip(".")
    return folded_token


@lru_cache(maxsize=1)
def glossary_terms() -> frozenset[str]:
    """Every search term the glossary can produce: in a gloss, such a term is a translation (and
    the corpus's silence on it means something); any other term was kept as the user typed it."""
    return frozenset(t for v in (*WORDS.values(), *PHRASES.values()) for t in tokenize(v))


def expand_query(question: str, keep_original: bool = False) -> str:
    """The text to search (and score answer sentences against) for `question`: unchanged in
    English; for Spanish, its English gloss (preceded by the question if `keep_original`)."""
    if question_language(question) != "es":
        return question
    gloss = english_gloss(question)
    if not gloss:
        return question
    return f"{question.strip()} {gloss}" if keep_original else gloss
