"""Keyword safety net that spots medical emergencies in a patient's text.

The NLU model learns the `emergency` intent too, but a classifier can be
unsure about a casual or misspelled text ("lol my chest kinda hurts", "cant
breath"). This module is the backstop: plain regular expressions over a
normalised copy of the text, tuned for recall. A false alarm costs the
patient one extra line telling them to call 911; a miss is unacceptable, so
when in doubt a pattern triggers. Negations ("no chest pain") are *not*
handled on purpose: "not breathing" is the most urgent text there is.

`emergency_reason(text)` returns a short category such as "chest pain" or
"self-harm" (callers may choose wording by category, e.g. the 988 line for
self-harm), or None. Pure Python, no Rasa imports, so it can be used by the
NLU component, actions and the SMS channel alike.

Spanish emergencies are caught too, before Spanish is supported in full: the
text is compared without accents ("papá" reads "papa"), so the Spanish
patterns are written unaccented, and everyday Spanish that only sounds dire
("me muero de hambre", "me muero de risa") is kept out. The categories are the
English ones. `emergency_language(text)` says whether the advice must be given
in Spanish as well ("es") or in English only ("en").
"""

from __future__ import annotations

import re
import unicodedata
from typing import Optional

__all__ = ["emergency_reason", "emergency_language", "is_emergency"]


def _gap(n: int) -> str:
    """Up to `n` arbitrary words between two parts of a pattern."""
    return rf"(?:\w+ ){{0,{n}}}"


_BREATH = r"\bbr(?:ea|e|ae|a)(?:th|h|te|ti|ht)\w*"
_CANT = (
    r"\b(?:cant|cannot|can not|cnt|couldnt|unable to|not able to|hard to|hard time|"
    r"trouble|difficult\w*|struggl\w*|stopped|not|isnt|wasnt|arent|barely|hardly|no longer)"
)
_CHEST = r"\b(?:chest|chst|chset|chets)\b"
_CHEST_PAIN = (
    r"(?:pain\w*|pian\w*|hurt\w*|tight\w*|pressure|heavy|heaviness|squeez\w*|crush\w*|"
    r"ach\w*|discomfort|sore|burning|stabbing|sharp|clutch\w*|grabb\w*|holding|funny|weird|strange)"
)
_NOT_CHEST = r"(?! (?:x ?rays?|xrays?|film|ct|scan|congestion|cold|infection|cough))"
_PILLS = (
    r"(?:pills?|meds|medications?|medicine|tablets?|tylenol|advil|ibuprofen|aspirin|"
    r"insulin|oxy\w*|xanax|benadryl|acetaminophen|fentanyl|opioids?|heroin|gummies)"
)
_SWALLOWED_THINGS = (
    r"(?:pills?|meds|medications?|tablets?|bleach|poison\w*|detergent|laundry pods?|"
    r"tide pods?|antifreeze|cleaner|batter(?:y|ies)|magnets?|gasoline|lighter fluid|"
    r"vape juice|nicotine)"
)
_SELF = r"(?:my ?self|him ?self|her ?self|them ?selves|themselves)"
_FEVER = r"(?:fever\w*|temp\w*|febrile|burning up|hot to the touch)"
_HIGH_TEMP = r"\b(?:10[4-9]|11\d|4[0-3])\b"
_YOUNG_INFANT = (
    r"\b(?:newborn|new born|infant|\d+ ?(?:day|days|week|weeks|wk|wks) old|"
    r"[0-2] ?(?:month|months|mo|mos) old)\b"
)
_CHILD = r"\b(?:baby|infant|newborn|toddler|son|daughter|kid|child|boy|girl)\b"

# (category, pattern) in priority order: the first match names the reason.
_PATTERNS: list[tuple[str, str]] = [
    ("self-harm", r"\bkill(?:ing)? " + _SELF),
    ("self-harm", r"\b(?:kms|kys|su(?:ici|ic|ci|isi|si)d\w*|unalive\w*)\b"),
    ("self-harm", r"\bend " + _SELF + r"|\bgive up on (?:life|living)\b|\b(?:hurt|kill)\w* (?:someone|somebody|people|others)\b"),
    ("self-harm", r"\bend(?:ing|s)? (?:it all|my life|my own life|his life|her life|things|everything)\b"),
    ("self-harm", r"\btake (?:my|his|her) (?:own )?life\b"),
    ("self-harm", r"\b(?:wants?|wanted|wanting|wanna|going|gonna|plan\w*|ready|trying) (?:to )?(?:die|end it|be dead|not be here)\b"),
    ("self-harm", r"\bwish (?:i|he|she) (?:was|were|could be) dead\b"),
    ("self-harm", r"\bbetter off (?:dead|without me|if i (?:was|were) dead|if i wasnt here)\b"),
    ("self-harm", r"\b(?:dont|do not) want to (?:live|be alive|be here|wake up|exist)\b"),
    ("self-harm", r"\b(?:no|(?:do ?n[o']?t|cant|can'?t|cannot) see (?:the|any|a)|what'?s the|whats the|lost (?:the|any)) "
                  r"(?:reason|point|purpose) (?:to|in|of) " + _gap(2) + r"(?:live|living|life|going on|go on|being alive)\b"),
    ("self-harm", r"\bnot worth living\b"),
    ("self-harm", r"\b(?:hurt|hurting|harm|harming|cutting|burn|burning|starve|starving) " + _SELF),
    ("self-harm", r"\bcut " + _SELF + r" (?:on purpose|again|deep)"),
    ("self-harm", r"\bself ?harm\w*|\bcut (?:my|his|her) wrists?\b"),
    ("self-harm", r"\b(?:hang|shoot|drown) " + _SELF),
    ("self-harm", r"\bjump off (?:a|the) (?:bridge|building|roof)\b"),

    ("overdose", r"\bover ?dos\w*|\bod\b|\boded\b|\boding\b"),
    ("overdose", r"\btook " + _gap(2) + r"(?:too many|too much|(?:a |an |the )?(?:whole|entire|full) (?:bottle|pack|box)|"
                 r"all (?:of )?(?:my|his|her|the|their|those) " + _gap(3) + _PILLS + r"|double|triple|twice)"),
    ("overdose", r"\b(?:took|taken|swallowed|ate|downed|popped) " + _gap(3)
                 + r"(?:bunch|handful|fistful|lot|lots|bottle|box|pack) of " + _gap(3) + _PILLS),
    ("overdose", r"\b(?:took|taken|swallowed|ate) (?:like |about |around |maybe )?(?:[1-9]\d|twenty|thirty|forty|fifty) " + _gap(2) + _PILLS),
    ("overdose", r"\b(?:gave|given|give) " + _gap(3) + r"(?:too much|too many|double|the wrong)\b"),
    ("overdose", r"\b(?:accidentally took|took the wrong) " + _gap(2) + _PILLS),
    ("overdose", r"\b(?:mixed|took|taken|had) " + _gap(3) + _PILLS + " " + _gap(3)
                 + r"(?:alcohol|vodka|whiskey|booze|liquor|wine|beer|drinks)"),
    ("poisoning", r"\b(?:swallowed|ate|got into|drank|ingested|eaten|drunk) " + _gap(3) + _SWALLOWED_THINGS),
    ("poisoning", r"\bpoison control\b|\bpoisoned\b|\bpoisoning\b"),

    ("chest pain", _CHEST + _NOT_CHEST + " " + _gap(5) + _CHEST_PAIN),
    ("chest pain", _CHEST_PAIN + " " + _gap(4) + _CHEST + _NOT_CHEST),
    ("chest pain", r"\bcp\b|\bheart ?attack|\bcardiac arrest|\bheart (?:stopped|stopping)\b|\belephant " + _gap(2) + r"(?:on|sitting)"),
    ("chest pain", r"\bleft arm\b " + _gap(3) + r"(?:pain\w*|hurt\w*|ach\w*|heavy)"),

    ("allergic reaction", r"\bthroat\b " + _gap(3) + r"(?:clos\w*|clsoing|tight\w*|swell\w*|swoll\w*)"),
    ("allergic reaction", r"(?:clos\w*|swell\w*|swoll\w*) " + _gap(2) + r"throat\b"),
    ("allergic reaction", r"\b(?:tongue|lips?|face|mouth)\b " + _gap(3) + r"(?:swell\w*|swoll\w*|puff\w* up|blow\w* up|blew up)"),
    ("allergic reaction", r"\b(?:swell\w*|swoll\w*) " + _gap(3) + r"(?:tongue|lips?|face)\b"),
    ("allergic reaction", r"\banaphyla\w*|\ballergic reaction\b"),
    ("allergic reaction", r"\b(?:used|use|gave|give|giving|using|injected) " + _gap(3) + r"epi ?pen"),

    ("breathing", _CANT + " " + _gap(2) + _BREATH),
    ("breathing", r"\b(?:short\w* of|out of) breath|\bcant get (?:any )?air|\bgasp\w*|\bsuffocat\w*|\bchok\w*"),
    ("breathing", r"\bturn\w* (?:blue|purple|gray|grey)|\blips (?:are |r |look |turned )?(?:blue|purple|gray|grey)|\bblue lips"),
    ("breathing", r"\basthma attack|\binhaler (?:is |isnt |not |wont |doesnt )" + _gap(1) + r"(?:work\w*|help\w*)|\bwheez\w*"),

    ("stroke", r"\bstrokes?\b|\bdroop\w*|\bslur\w*"),
    ("stroke", r"\bface\b " + _gap(3) + r"(?:crooked|lopsided|uneven|sagging|saggy|numb\w*|paraly\w*|frozen|fell|falling)"),
    ("stroke", r"\b(?:one|left|right|1) side\b " + _gap(5) + r"(?:numb\w*|weak\w*|paraly\w*|tingl\w*|dead|limp|cant move)"),
    ("stroke", r"\b(?:numb\w*|weak\w*|paraly\w*) " + _gap(4) + r"(?:one|left|right) side\b"),
    ("stroke", r"\b(?:arm|leg|hand|face)s?\b " + _gap(4) + r"(?:numb\w*|limp|paraly\w*)"),
    ("stroke", r"\bnumb\w* " + _gap(3) + r"(?:arm|leg|face)s?\b"),
    ("stroke", r"\b(?:cant|cannot|can not|couldnt) (?:lift|move|raise|feel) " + _gap(2) + r"(?:arm|leg|hand|face|side)"),
    ("stroke", r"\bsudden\w* " + _gap(2) + r"(?:confus\w*|weak\w*|numb\w*|paraly\w*|cant (?:speak|talk|see)|blind\w*)"),
    ("stroke", r"\b(?:cant|cannot|can not) (?:speak|talk|get (?:his|her|my) words out) (?:properly|clearly|right|normally)"),
    ("stroke", r"\b(?:talk|speak|speech|words|saying)\w* " + _gap(3) + r"(?:not making sense|no sense|gibberish|garbled|jumbled)"),
    ("stroke", r"\b(?:not making|making no) sense when\b|\bworst headache|\bthunderclap"),
    ("stroke", r"\bcant see out of\b|\blost (?:my |his |her )?(?:vision|sight)\b|\bwent blind\b"),

    ("seizure", r"\bseiz\w*|\bsiez\w*|\bconvuls\w*|\bfoaming at the mouth|\bhaving a fit\b|\bshaking uncontrollabl\w*"),

    ("unresponsive", r"\bunrespons\w*|\bunconscious\w*|\b(?:not|isnt|wont|stopped) respond\w*"),
    ("unresponsive", r"\b(?:wont|will not|cant|cannot|can not|couldnt|isnt|not) (?:wake|waking|rouse)\b"),
    ("unresponsive", r"\bpass(?:ed|ing)? out\b|\bblack(?:ed)? out\b|\bfaint(?:ed|ing)\b|\bfeel\w* faint\b"),
    ("unresponsive", r"\bcollaps\w*|\bno pulse\b|\blifeless\b|\bknocked out\b|\bkeeled over\b|\b(?:went|gone|is) limp\b|\b(?:isnt|not|stopped) moving\b"),
    ("unresponsive", _CHILD + " " + _gap(6) + r"(?:limp|floppy|lethargic)\b"),

    ("bleeding", r"\b(?:wont|will not|doesnt|does not|cant|cannot|can not|not|isnt|hasnt|havent|never) "
                 + _gap(2) + r"stop\w* " + _gap(2) + r"(?:bleed\w*|blood)"),
    ("bleeding", r"\b(?:bleed\w*|blood) " + _gap(3) + r"(?:wont|will not|doesnt|does not|isnt|not|hasnt|cant) " + _gap(1) + r"stop"),
    ("bleeding", r"\bbleed\w* " + _gap(2) + r"(?:a lot|alot|heavily|heavy|badly|bad|profusely|everywhere|so much|"
                 r"like crazy|nonstop|non stop|through|out)\b"),
    ("bleeding", r"\b(?:heavy|heavily|severe|uncontrol\w*|massive|profuse\w*) " + _gap(1) + r"bleed\w*"),
    ("bleeding", r"\bblood (?:is )?everywhere|\b(?:lots|lot|so much|pool|puddle|covered) (?:of |in )?blood\b"),
    ("bleeding", r"\b(?:cough\w*|vomit\w*|throw\w* up|threw up|puk\w*) " + _gap(2) + r"blood\b"),
    ("bleeding", r"\bgush\w*|\bspurt\w*|\bsoak\w* through|\bhemorrhag\w*|\bhaemorrhag\w*"),

    ("head injury", r"\b(?:hit|bang\w*|bump\w*|smack\w*|slam\w*|struck|cracked|whacked|fell on) " + _gap(2) + r"(?:head|skull)\b"),
    ("head injury", r"\bhead (?:injury|trauma|wound)|\bskull fracture|\bconcussion"),

    ("infant fever", _YOUNG_INFANT + r".*" + _FEVER),
    ("infant fever", _FEVER + r".*" + _YOUNG_INFANT),
    ("infant fever", r"\b(?:baby|infant)\b.*" + _FEVER + r".*\b10[2-9]\b|\b10[2-9]\b.*" + _FEVER + r".*\b(?:baby|infant)\b"),
    ("high fever", _FEVER + " " + _gap(3) + _HIGH_TEMP),
    ("high fever", _HIGH_TEMP + " " + _gap(2) + r"(?:degree\w*|fever|temp\w*|f)\b"),
    ("high fever", r"\b(?:very|really|super|extremely) high " + _FEVER),
    ("meningitis signs", r"\bstiff neck\b.*\b" + _FEVER + r"|\b" + _FEVER + r".*\bstiff neck\b"),
    ("meningitis signs", r"\brash\b " + _gap(4) + r"(?:doesnt|dont|wont|does not) fade|\bpurple (?:rash|spots)"),

    ("injury", r"\bcar (?:accident|crash|wreck)|\bhit by a (?:car|truck|bus)|\bmotorcycle (?:accident|crash)"),
    ("injury", r"\b(?:badly|severely|bad) burn\w*|\bburn\w* (?:badly|bad|severely)|\b(?:third|3rd|second|2nd) degree burn"),
    ("injury", r"\bskin (?:is )?peeling off|\bbone " + _gap(2) + r"sticking out|\bcompound fracture|\bbroken (?:neck|back)\b"),
    ("injury", r"\belectrocut\w*|\bdrown\w*|\bgunshot|\b(?:been|got|was) (?:shot|stabbed)\b|\bstabbed\b"),
    ("injury", r"\bfell " + _gap(2) + r"(?:cant|cannot|can not|unable to) get up\b"),
    ("pregnancy", r"\bwater (?:just )?broke\b|\bin labou?r\b|\bcontractions\b"),
    ("severe pain", r"\bworst pain\b|\bsevere (?:abdominal|stomach|belly) pain|\bexcruciating\b|\bunbearable pain\b"),
    ("emergency", r"\b911\b|\bambulance|\bemergency room|\bparamedics?\b|\bcall (?:an|the) ambulance\b"),
]
_COMPILED = [(reason, re.compile(pattern)) for reason, pattern in _PATTERNS]

# --- Spanish (and Spanglish), matched on the unaccented text -------------------------
_ES_CHEST = r"\b(?:pecho|torax|chest)\b"
_ES_PAIN = (
    r"(?:dol\w*|duel\w*|aprie\w*|apret\w*|presion|opresion|oprim\w*|pesad\w*|peso|ard\w*|punzad\w*|"
    r"pinchaz\w*|molest\w*|pain|hurt\w*|tight\w*|estruj\w*)"
)
_ES_NOT_CHEST = r"(?! (?:radiograf\w*|rayos|placa|x ray|congestion\w*|congestionad\w*|tos|gripa|gripe|resfriad\w*))"
_ES_BREATHE = r"(?:r[ae]sp[ie]?r\w*|breath\w*|breth\w*)"
_ES_PILLS = (
    r"(?:pastill\w*|pildor\w*|medicin\w*|medicament\w*|tabletas?|capsulas?|tylenol|advil|ibuprofeno|"
    r"paracetamol|acetaminofen\w*|aspirinas?|insulina|meds|pills|fentanil\w*|opio\w*|xanax|clonazepam|"
    r"benadryl|calmantes|antidepresiv\w*|somniferos|pastas|jarabe\w*)"
)
_ES_MANY = (
    r"(?:todas?|todos|demasiad\w*|monton|muchas|muchos|frasco|caja|bote|punado|doble|triple|"
    r"[2-9]\d|veinte|treinta|cuarenta|cincuenta|un chingo|bastantes)"
)
_ES_TOOK = r"(?:tom\w*|trag\w*|comi\w*|bebi\w*|ingiri\w*|ingeri\w*|se echo|se metio)"
_ES_POISONS = (
    r"(?:cloro|clorox|blanqueador|lejia|lavandina|veneno|detergente|capsulas? de (?:detergente|lavar|ropa)|pods|"
    r"anticongelante|gasolina|pilas?|baterias?|iman\w*|raticida|matarratas|mata ratas|insecticida|pesticida|"
    r"liquido (?:de|del) (?:vape|vapeador)|nicotina|thinner|aguarras|limpi\w*|suavizante|jabon|quimicos?|acido|amoniaco|"
    r"bleach)"
)
# "me muero de hambre", "muerta de risa": everyday, never an emergency.
_ES_EVERYDAY_DE = (
    r"(?! (?:de|del|por) (?:la |el |las |los )?(?:hambre|risa|sueno|frio|calor|verguenza|pena|ganas|aburrimiento|"
    r"cansancio|envidia|miedo|amor|nervios|emocion|sed|flojera|gusto|alegria|felicidad|tristeza|celos|"
    r"curiosidad|antojo|desvelo|pereza|estres|ansias)\b)"
)
_ES_SELF_END = (
    r"(?:morir\w*|muert[oa]s?|matar(?:me|se|te)|suicid\w*|quitar(?:me|se) la vida|no (?:estar|existir|despertar)\w*|"
    r"desaparecer|acabar con (?:mi|su|todo)\w*|terminar con (?:mi|su|todo)\w*|hacer(?:me|se) dano|lastimar(?:me|se)|"
    r"cortar(?:me|se))"
)
_ES_SIDE = (
    r"\b(?:(?:un|el|del|de un|mi|su) lado(?: del cuerpo| de la cara| izquierdo| derecho)?|lado (?:izquierdo|derecho)|"
    r"(?:la )?mitad (?:del cuerpo|de la cara|de su cuerpo|de mi cuerpo)|medio cuerpo|media cara)"
)
_ES_NUMB = (
    r"(?:dorm\w*|durm\w*|entum\w*|adormec\w*|debil\w*|paraliz\w*|sin fuerza|no (?:lo |la )?(?:puede|puedo) mover)"
    r"\b(?! (?:por|de|con) la anestesia)"
)
_ES_BODY_SWELL = r"(?:lengua|labios?|cara|boca|ojos|parpados|garganta|face|lips|tongue|throat)"
_ES_SWELL = r"(?:hinch\w*|inflam\w*|infla\w*|cerr\w*|cierr\w*|swell\w*|swoll\w*)"

_ES_PATTERNS: list[tuple[str, str]] = [
    ("self-harm", r"\bsuicid\w*|\bautolesi\w*|\bmatarme\b|\bquitar(?:me|se|le) la vida\b|\b(?:me (?:quiero|voy a|vo a)|se (?:quiere|va a)) matar\b"
                  r"(?! (?:trabajando|estudiando|de risa|haciendo|en el gym))"),
    ("self-harm", r"\b(?:quiero|quisiera|quiere|queria|ganas de|deseo|desea|voy a|va a|piens[oa] en|pensando en|"
                  r"pensado en|pensamientos de|ideas de|planeo|planea|plan de|preferiria|intente|intento|trate de) "
                  + _gap(1) + _ES_SELF_END + _ES_EVERYDAY_DE),
    ("self-harm", r"\b(?:cortar(?:me|se)|me corto|se corta|me corte|se corto|me (?:he|estoy|e) (?:estado )?cortando|"
                  r"se (?:ha|esta) (?:estado )?cortando|me he cortado|se ha cortado) "
                  r"(?:las venas|los brazos|las munecas|la muneca|las piernas|a proposito|otra vez|de nuevo)"),
    ("self-harm", r"\b(?:acabar|terminar) con (?:mi vida|su vida|todo)\b|\bno (?:quiero|quiere|queria|tengo ganas de) "
                  r"(?:seguir )?(?:vivir|viviendo|existir|despertar|estar aqui|estar viv[oa])\b"),
    ("self-harm", r"\b(?:no (?:vale|tiene) (?:la pena|sentido)|sin sentido|no le (?:veo|encuentro|hallo) (?:el )?sentido)"
                  r" (?:a )?(?:seguir )?(?:vivir|viviendo|la vida|seguir)\b|\bla vida no (?:tiene sentido|vale)"),
    ("self-harm", r"\b(?:estarian|estaria|estan|estarian todos|vivirian) mejor sin mi\b|\bmejor (?:estar )?muert[oa]\b|"
                  r"\bojala (?:estuviera muert|me muriera|no despert|no existiera|no hubiera nacido)"),
    ("self-harm", r"\b(?:ahorcar(?:me|se)|colgar(?:me|se)|disparar(?:me|se)|se va a disparar|(?:pegar\w*|darse|darme) un (?:tiro|balazo)|tirar(?:me|se) (?:de|del|desde|a|al) "
                  r"(?:un |una |el |la )?(?:puente|edificio|techo|azotea|tren|metro|balcon|ventana))"),

    ("overdose", r"\bsobre ?dosis\b|\bsobredosi\w*|\bse (?:paso|pasaron) (?:de|con) (?:la dosis|las pastillas|el medicamento)"),
    ("overdose", r"\b" + _ES_TOOK + " " + _gap(2) + _ES_MANY + " " + _gap(4) + _ES_PILLS),
    ("overdose", r"\b" + _ES_TOOK + " " + _gap(3) + r"(?:de mas|demasiad\w*|el doble|doble dosis|triple dosis|"
                 r"todo el (?:frasco|bote)|toda la caja)\b"),
    ("overdose", r"\b(?:le di|le dimos|le dieron|le puse|me dieron|(?:se|me|le) (?:puso|puse|inyecto|inyecte|aplico|aplique)) " + _gap(3) + r"(?:de mas|demasiad\w*|el doble|doble|el triple|triple|"
                 r"la (?:medicina|dosis) (?:equivocada|incorrecta)|otra medicina)\b"),
    ("overdose", _ES_PILLS + " " + _gap(4) + r"(?:con|y) " + _gap(2) + r"(?:alcohol|tequila|vodka|cerveza|vino|licor|"
                 r"whisky|ron|mezcal|trago)"),
    ("poisoning", r"\b" + _ES_TOOK + " " + _gap(3) + _ES_POISONS + r"\b"),
    ("poisoning", r"\b(?:nin[oa]s?|bebes?|nene|nena|chiquit[oa]|toddler|de [1-5] anos|de \d+ meses)\b " + _gap(3)
                  + _ES_TOOK + " " + _gap(3) + _ES_PILLS),
    ("poisoning", r"\benvenen\w*|\bintoxica\w*|\btoxicologia\b|\bcontrol de (?:veneno|envenenamiento)"),

    ("chest pain", _ES_CHEST + _ES_NOT_CHEST + " " + _gap(5) + _ES_PAIN),
    ("chest pain", _ES_PAIN + " " + _gap(5) + _ES_CHEST + _ES_NOT_CHEST),
    ("chest pain", r"\binfart\w*|\bataque (?:al |del )?(?:corazon|cardiac\w*)|\bpar[oa] (?:cardiac\w*|al corazon)|"
                   r"\b(?:corazon|heart) " + _gap(2) + r"(?:se (?:paro|detuvo)|dejo de latir)"),
    ("chest pain", r"\bbrazo izquierdo " + _gap(3) + r"(?:dol\w*|duel\w*|dormid\w*|entumid\w*|adormecid\w*|pesad\w*)|"
                   r"\b(?:duele|dolor en) (?:el|mi|su) brazo izquierdo"),

    ("allergic reaction", r"\bgarganta " + _gap(3) + r"(?:se (?:me |le )?(?:cierra|cerro|esta cerrando)|cerr\w*|cierr\w*|"
                          r"hinch\w*|apret\w*)"),
    ("allergic reaction", r"\b(?:cierr\w*|cerr\w*|hinch\w*|apret\w*) " + _gap(3) + r"(?:la )?(?:garganta|throat)\b"),
    ("allergic reaction", r"\b" + _ES_BODY_SWELL + r"\b " + _gap(3) + _ES_SWELL),
    ("allergic reaction", r"\b(?:hinch\w*|inflam\w*|swell\w*|swoll\w*) " + _gap(3) + _ES_BODY_SWELL
                          + r"\b(?! ya (?:bajo|se (?:me |le )?(?:bajo|desinflamo|quito)|paso|mejoro))"),
    ("allergic reaction", r"\b(?:hinch\w*|inflam\w*) (?:todo|toda|todo el cuerpo|el cuerpo)\b|\btodo hinchad[oa]\b"),
    ("allergic reaction", r"\banafila\w*|\breaccion alergica|\bchoque alergico|\bshock alergico|"
                          r"\b(?:use|uso|usamos|puse|puso|pusimos|inyect\w*|aplic\w*) " + _gap(3) + r"(?:epi ?pen|epinefrina)"),

    ("breathing", r"\b(?:no|apenas|casi no|ya no|dejo de|deja de|paro de|no puede|no puedo) " + _gap(2) + _ES_BREATHE),
    ("breathing", r"\b(?:cuesta\w*|costando|dificultad\w*|dificil|problemas?|trabajo|batall\w*|luch\w*|trouble) "
                  + _gap(2) + _ES_BREATHE),
    ("breathing", _ES_BREATHE + " " + _gap(1) + r"(?:con dificultad|muy rapido|bien raro|con silbido|entrecortad\w*)"),
    ("breathing", r"\b(?:falta|faltando|sin) (?:de )?(?:el )?aire\b|\bno (?:me|le|les) (?:entra|llega) (?:el )?aire|"
                  r"\bahog\w*\b(?! (?:de|en|con) (?:trabajo|chamba|deudas|tareas|pendientes|cuentas|problemas))|\basfixi\w*|\batragant\w*|\bse (?:esta |estan )?(?:atorando|atoro)\b|\batorad[oa] con\b"),
    ("breathing", r"\blabios " + _gap(2) + r"(?:morad\w*|azul\w*|moret\w*|gris\w*)|\b(?:se puso|se esta poniendo|se pone|"
                  r"se le puso|se le pusieron) " + _gap(2) + r"(?:morad\w*|azul\w*)"),
    ("breathing", r"\b(?:ataque|crisis) (?:de )?asma\w*|\binhalador " + _gap(2) + r"no (?:le |me )?(?:funciona|sirve|ayuda)|"
                  r"\bsibilanc\w*|\ble silba el pecho"),

    ("stroke", r"\bderrame\b|\bembolia\b|\bictus\b|\baccidente cerebro ?vascular|\bataque cerebral"),
    ("stroke", r"\b(?:cara|boca|rostro) " + _gap(3) + r"(?:caid\w*|torcid\w*|chuec\w*|dormid\w*|paraliz\w*|entumid\w*|"
               r"adormecid\w*|colgad\w*|desviad\w*)"),
    ("stroke", r"\bse (?:le|me) (?:cayo|esta cayendo|cae|durmio|torcio|paralizo) (?:la )?(?:cara|boca|mitad|un lado)\b"
               r"(?! (?:por|de|con) la anestesia)"),
    ("stroke", _ES_SIDE + " " + _gap(3) + _ES_NUMB),
    ("stroke", _ES_NUMB + " " + _gap(3) + _ES_SIDE),
    ("stroke", r"\b(?:brazo|mano|cara|boca) " + _gap(3) + r"(?:paraliz\w*|sin fuerza|entumid\w*|adormecid\w*)"),
    ("stroke", r"\bno (?:puede|puedo|podia|pudo) (?:mover|levantar|sentir) (?:el |la |su |mi )?(?:brazo|pierna|mano|cara|lado)"),
    ("stroke", r"\barrastr\w* (?:las )?palabras|\bhabla\w* " + _gap(2) + r"(?:raro|enredad\w*|trabad\w*|incoherent\w*|"
               r"sin sentido|arrastrad\w*|mocho|chistoso)|\bno (?:puede|pudo|podia) hablar\b|\bno se le entiende\b|"
               r"\bse (?:le|me) traba (?:la lengua|al hablar)|\bbalbuce\w*"),
    ("stroke", r"\bpeor dolor de cabeza|\bdolor de cabeza " + _gap(3) + r"(?:de repente|repentin\w*|subito|horrible|"
               r"insoportable|explosiv\w*)"),
    ("stroke", r"\bperdi\w* (?:la )?(?:vista|vision)\b|\bde repente no (?:puede|puedo) (?:ver|hablar|caminar)|"
               r"\bno (?:ve|veo) (?:bien )?(?:de|por) un ojo|\bde golpe " + _gap(2) + r"(?:no (?:puede|puedo) (?:ver|hablar)|confundid\w*)|"
               r"\bconfundid\w* de golpe|\bconfundid\w* de repente|\bde repente " + _gap(2) + r"confundid\w*"),

    ("seizure", r"\bconvuls\w*|\bataque (?:epileptic\w*|de epilepsia)|\bcrisis (?:epileptic\w*|convulsiv\w*)|"
                r"\bespuma (?:por|en) la boca|\bse le (?:voltean|voltearon|fueron|van) (?:para atras )?los ojos|\bepilep\w*"),

    ("unresponsive", r"\bdesmay\w*|\binconscien\w*|\bperdi\w* (?:el |la )?(?:conocimiento|conciencia|sentido)|"
                     r"\bsin (?:conocimiento|pulso|sentido)\b|\bno tiene pulso|\bse desplom\w*|\bcolaps\w*"),
    ("unresponsive", r"\b(?<!me )(?<!nadie )no (?:responde|reacciona|despierta|se despierta|respira ni)\b"
                     r"(?! (?:a )?(?:mis|los|las|el|al|mi|la|nadie|ningun\w*|correos?|mensajes?|llamadas?|telefono)\b)"),
    ("unresponsive", r"\bno (?:lo|la|le|los|las) (?:puedo|podemos|pude|podia|puede) (?:despertar|hacer reaccionar)|"
                     r"\b(?:se cayo|tirad[oa]|desmay\w*|en el (?:piso|suelo)) " + _gap(5) + r"no (?:se mueve|contesta|habla|responde|vuelve en si)|"
                     r"\bno vuelve en si"),

    ("bleeding", r"\bsangr\w* " + _gap(2) + r"(?:mucho|much[ao]|muchisim\w*|demasiad\w*|abundante\w*|bastante|"
                 r"fuerte|sin parar|a chorros|por todos lados|sin control|horrible|un monton)"),
    ("bleeding", r"\b(?:mucha|demasiada|tanta|bastante|chorros? de|charco de|litros de|perdiendo) " + _gap(1) + r"sangre\b"),
    ("bleeding", r"\bno (?:le |me |se |les )?(?:deja|para|dejaba|paraba|ha parado|ha dejado|se le quita|se detiene|se le para|se para) "
                 + _gap(1) + r"(?:de )?(?:sangr\w*|bleed\w*)"),
    ("bleeding", r"\b(?:sangr\w*|bleed\w*) " + _gap(3) + r"no (?:para|se detiene|se para|se quita|se le quita|deja|"
                 r"ha parado|paraba|se corta)"),
    ("bleeding", r"\bhemorragi\w*|\b(?:vomit\w*|tos\w*|escup\w*|devolv\w*|arroj\w*) " + _gap(2) + r"sangre\b|"
                 r"\bsangre en el vomito|\bbleed\w* " + _gap(1) + r"(?:mucho|demasiado|sin parar)"),
    ("bleeding", r"\bembarazad\w*\b.*\bsangr\w*|\bsangr\w*.*\bembarazad\w*"),

    ("head injury", r"\b(?:se (?:pego|golpeo|dio)|me (?:pegue|golpee|di)|golpe\w*|pego) " + _gap(2)
                    + r"(?:en )?(?:la )?cabeza\b|\bse cayo de cabeza|\bconmocion cerebral|\btraumatismo"),
    ("infant fever", r"\b(?:recien nacid\w*|\d+ (?:dias|semanas) de nacid\w*|bebe de (?:\d+ (?:dias|semanas)|[0-2] mes\w*|"
                     r"un mes|dos meses))\b.*\b(?:fiebre|calentura|temperatura)|\b(?:fiebre|calentura|temperatura)\b.*"
                     r"\b(?:recien nacid\w*|bebe de (?:\d+ (?:dias|semanas)|[0-2] mes\w*|un mes|dos meses))"),
    ("high fever", r"\b(?:fiebre|calentura|temperatura) " + _gap(3) + _HIGH_TEMP),
    ("pregnancy", r"\b(?:se me rompio|rompi|se le rompio|rompio) (?:la )?fuente\b|\b(?:en|de|con) trabajo de parto\b|"
                  r"\bcontracciones\b"),
    ("injury", r"\baccidente (?:de|en) (?:carro|coche|auto|moto|transito|trafico)|\bme atropell\w*|\b(?:lo|la|le) atropell\w*|"
               r"\bquemadura\w* (?:grave|fuerte|seria)|\b(?:apunalad\w*|acuchillad\w*|balead\w*|le dispararon|me dispararon)"),
    ("emergency", r"\bambulancia\b|\burgencias\b|\bparamedic\w*|\bemergencias?\b(?! (?:familiar\w*|de (?:trabajo|familia|"
                  r"la casa|plomeria|mi perro|mi gato|dinero)|del trabajo|en (?:el trabajo|casa|la casa|la escuela)|personal\w*|"
                  r"con (?:el|mi|la) (?:carro|coche|perro|gato|auto|trabajo|casa|ninera)|veterinari\w*))"),
]
_ES_COMPILED = [(reason, re.compile(pattern)) for reason, pattern in _ES_PATTERNS]

# One Spanish word that is not English, two that may be (or an accented letter), make a text Spanish.
_SPANISH_WORDS = frozenset(
    "el los las mis sus que del esta estoy esta tiene tengo por favor ayuda ayudame con se le les una muy pero "
    "porque hijo hija esposo esposa abuela abuelo puede puedo hace ahora hoy ayer dolor pecho duele creo "
    "necesito cita doctora gracias hola buenos buenas dias tardes noches respirar sangre quiero tome tomo "
    "pastillas vivir morir matar responde contesta como mas".split()
)
_MAYBE_SPANISH_WORDS = frozenset("la mi su y es de al no mama papa".split())
_SPANISH_LETTERS = re.compile(r"[ñáíóúü¿¡]")

# "emergency" by itself triggers, except in everyday phrases like "family emergency".
_EMERGENCY_WORD = re.compile(r"\b(\w+ )?emergenc(?:y|ies)\b")
_NOT_MEDICAL_EMERGENCY = {
    "family", "work", "personal", "pet", "vet", "house", "home", "financial",
    "childcare", "babysitting", "scheduling", "plumbing", "car",
}


def _normalise(text: str) -> str:
    """Lower-case, strip accents ("papá" -> "papa", "ñ" -> "n"), drop apostrophes ("can't" -> "cant"),
    turn punctuation into spaces."""
    lowered = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    lowered = "".join(char for char in unicodedata.normalize("NFKD", lowered) if not unicodedata.combining(char))
    lowered = re.sub(r"\bo\.?d'd\b|\bod'ed\b|\bo\.d\.", " overdosed ", lowered)
    lowered = re.sub(r"(?<=\w)'(?=\w)", "", lowered)
    lowered = re.sub(r"[^a-z0-9]+", " ", lowered)
    return f" {lowered.strip()} "


def emergency_reason(text: str) -> Optional[str]:
    """Return a short category if `text` describes an emergency anywhere in it, else None.

    Categories: "self-harm", "overdose", "poisoning", "chest pain",
    "allergic reaction", "breathing", "stroke", "seizure", "unresponsive",
    "bleeding", "head injury", "infant fever", "high fever",
    "meningitis signs", "injury", "pregnancy", "severe pain", "emergency";
    Spanish texts get the same categories.
    """
    if not text:
        return None
    normalised = _normalise(text)
    for reason, pattern in _COMPILED + _ES_COMPILED:
        if pattern.search(normalised):
            return reason
    for match in _EMERGENCY_WORD.finditer(normalised):
        previous = (match.group(1) or "").strip()
        if previous not in _NOT_MEDICAL_EMERGENCY:
            return "emergency"
    if re.search(r"\bER\b|\bE\.R\.", text):
        return "emergency"
    return None


def _spanish_pattern_alone(text: str) -> bool:
    """A Spanish pattern matches and no English one does ("me quiero morir")."""
    normalised = _normalise(text)
    return (not any(pattern.search(normalised) for _, pattern in _COMPILED)
            and any(pattern.search(normalised) for _, pattern in _ES_COMPILED))


def emergency_language(text: str) -> str:
    """"es" when the emergency advice must be given in Spanish too, else "en".

    Spanish when only a Spanish pattern matches, or the text has an accented Spanish letter or a Spanish word
    (two if they could be English: "mi", "la", "no"); a bilingual text
    ("my mom no puede respirar") is Spanish. A wrong "es" only adds the Spanish line to the English one.
    """
    if not text:
        return "en"
    if _SPANISH_LETTERS.search(text.lower()) or _spanish_pattern_alone(text):
        return "es"
    words = set(_normalise(text).split())
    spanish, maybe = len(words & _SPANISH_WORDS), len(words & _MAYBE_SPANISH_WORDS)
    return "es" if spanish >= 1 or maybe >= 2 else "en"


def is_emergency(text: str) -> bool:
    """True when `emergency_reason(text)` finds an emergency."""
    return emergency_reason(text) is not None
