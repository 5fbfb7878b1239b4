"""The hand-kept tables behind :mod:`aggregator.gazetteer`, as plain Python literals.

pycountry supplies the ISO names; everything here is what it does not know: UN M49
regions, the short names people write, historical names, demonyms, French and Spanish
names of the countries that matter most for migrant smuggling, capitals and the towns
on the routes, and the phrases that look like a country but are not one (seas, rivers,
US states). Keys are ISO 3166-1 alpha-2 codes in lower case.

Editing rules: a surface form is written as it is printed (accents, capitals, hyphens);
the gazetteer folds accents and case itself and treats a hyphen like a space.
A form listed twice under different codes is a bug (``tests/test_gazetteer.py`` checks).
"""

from __future__ import annotations

# -- UN M49 -----------------------------------------------------------------------------
# The intermediate region where M49 defines one (only the African and American ones are
# used: the Channel Islands are kept in Northern Europe, as their sub-region), else the
# sub-region. Taiwan is listed under Eastern Asia (M49 folds it into China).
_M49_GROUPS: dict[str, str] = {
    "northern-africa": "dz eg ly ma sd tn eh",
    "eastern-africa": "io bi km dj er et tf ke mg mw mu yt mz re rw sc so ss ug tz zm zw",
    "middle-africa": "ao cm cf td cg cd gq ga st",
    "southern-africa": "bw sz ls na za",
    "western-africa": "bj bf cv ci gm gh gn gw lr ml mr ne ng sh sn sl tg",
    "caribbean": "ai ag aw bs bb bq vg ky cu cw dm do gd gp ht jm mq ms pr bl kn lc mf vc"
                 " sx tt tc vi",
    "central-america": "bz cr sv gt hn mx ni pa",
    "south-america": "ar bo bv br cl co ec fk gf gy py pe gs sr uy ve",
    "northern-america": "bm ca gl pm us",
    "central-asia": "kz kg tj tm uz",
    "eastern-asia": "cn hk mo kp jp mn kr tw",
    "south-eastern-asia": "bn kh id la my mm ph sg th tl vn",
    "southern-asia": "af bd bt in ir mv np pk lk",
    "western-asia": "am az bh cy ge iq il jo kw lb om qa sa ps sy tr ae ye",
    "eastern-europe": "by bg cz hu pl md ro ru sk ua",
    "northern-europe": "ax dk ee fo fi gg is ie im je lv lt no sj se gb",
    "southern-europe": "al ad ba hr gi gr va it mt me mk pt sm rs si es",
    "western-europe": "at be fr de li lu mc nl ch",
    "australia-and-new-zealand": "au cx cc hm nz nf",
    "melanesia": "fj nc pg sb vu",
    "micronesia": "gu ki mh fm nr mp pw um",
    "polynesia": "as ck pf nu pn ws tk to tv wf",
}
M49: dict[str, str] = {iso: slug for slug, codes in _M49_GROUPS.items() for iso in codes.split()}

REGION_NAMES: dict[str, str] = {
    "northern-africa": "Northern Africa",
    "eastern-africa": "Eastern Africa",
    "middle-africa": "Middle Africa",
    "southern-africa": "Southern Africa",
    "western-africa": "Western Africa",
    "caribbean": "Caribbean",
    "central-america": "Central America",
    "south-america": "South America",
    "northern-america": "Northern America",
    "central-asia": "Central Asia",
    "eastern-asia": "Eastern Asia",
    "south-eastern-asia": "South-eastern Asia",
    "southern-asia": "Southern Asia",
    "western-asia": "Western Asia",
    "eastern-europe": "Eastern Europe",
    "northern-europe": "Northern Europe",
    "southern-europe": "Southern Europe",
    "western-europe": "Western Europe",
    "australia-and-new-zealand": "Australia and New Zealand",
    "melanesia": "Melanesia",
    "micronesia": "Micronesia",
    "polynesia": "Polynesia",
}

# -- display names ----------------------------------------------------------------------
# The English short name for a location line, where pycountry's ``common_name``/``name``
# is a formal or inverted one ("Congo, The Democratic Republic of the").
DISPLAY_NAMES: dict[str, str] = {
    "bo": "Bolivia", "bn": "Brunei", "cd": "Democratic Republic of the Congo",
    "cg": "Republic of the Congo", "fk": "Falkland Islands", "fm": "Micronesia",
    "gb": "United Kingdom", "ir": "Iran", "kp": "North Korea", "kr": "South Korea",
    "la": "Laos", "md": "Moldova", "mf": "Saint Martin", "ps": "Palestine", "ru": "Russia",
    "sh": "Saint Helena", "sx": "Sint Maarten", "sy": "Syria", "tw": "Taiwan",
    "tz": "Tanzania", "us": "United States", "va": "Holy See", "ve": "Venezuela",
    "vg": "British Virgin Islands", "vi": "United States Virgin Islands", "vn": "Viet Nam",
    "bq": "Caribbean Netherlands", "cc": "Cocos (Keeling) Islands",
}

# pycountry names not to match as written: the French word for "meeting", and the forms
# whose bare use is ambiguous (handled by the rules in the gazetteer instead).
SKIP_PYCOUNTRY_NAMES: frozenset[str] = frozenset({"Réunion", "Congo", "Micronesia"})

# -- English names ----------------------------------------------------------------------
# Short, alternative and historical names; pycountry's name/common/official come free.
EXTRA_NAMES: dict[str, tuple[str, ...]] = {
    "ae": ("Emirates",),
    "ba": ("Bosnia", "Bosnia-Herzegovina"),
    "bn": ("Brunei",),
    "bo": ("Bolivia",),
    "bs": ("Bahamas",),
    "cd": ("Democratic Republic of the Congo", "Democratic Republic of Congo", "DR Congo", "D.R. Congo", "DR of Congo",
           "Congo-Kinshasa", "Congo (Kinshasa)", "Congo Kinshasa", "Zaire"),
    "cg": ("Republic of Congo", "Congo Republic", "Congo-Brazzaville", "Congo (Brazzaville)",
           "Congo Brazzaville"),
    "ci": ("Ivory Coast", "Cote d'Ivoire"),
    "cv": ("Cape Verde",),
    "cz": ("Czech Republic",),
    "fk": ("Falkland Islands", "Falklands"),
    "fm": ("Federated States of Micronesia",),
    "gb": ("Britain", "Great Britain", "United Kingdom of Great Britain and Northern Ireland",
           "England", "Scotland", "Wales", "Northern Ireland"),
    "gm": ("Gambia", "Republic of The Gambia"),
    "gn": ("Guinea-Conakry", "Guinea Conakry", "Republic of Guinea"),
    "ir": ("Iran", "Persia"),
    "kp": ("North Korea", "Democratic People's Republic of Korea"),
    "kr": ("South Korea", "Republic of Korea", "Korea"),
    "la": ("Laos", "Lao PDR"),
    "mk": ("Macedonia", "Former Yugoslav Republic of Macedonia"),
    "mm": ("Burma",),
    "mo": ("Macau",),
    "md": ("Moldova",),
    "nl": ("Holland",),
    "ps": ("Palestine", "State of Palestine", "Occupied Palestinian Territory",
           "Palestinian Territories"),
    "re": ("Reunion Island", "Réunion Island"),
    "ru": ("Russia",),
    "sh": ("Saint Helena", "St Helena", "St. Helena"),
    "sk": ("Slovak Republic",),
    "so": ("Somaliland",),
    "st": ("São Tomé and Príncipe", "Sao Tome"),
    "sy": ("Syria",),
    "sz": ("Swaziland",),
    "tl": ("East Timor",),
    "tr": ("Turkey", "Turkiye"),
    "tw": ("Taiwan", "Chinese Taipei"),
    "tz": ("Tanzania",),
    "us": ("United States of America", "America"),
    "va": ("Holy See", "Vatican", "Vatican City"),
    "ve": ("Venezuela",),
    "vg": ("British Virgin Islands",),
    "vi": ("US Virgin Islands", "U.S. Virgin Islands", "United States Virgin Islands"),
    "vn": ("Vietnam",),
    "mf": ("Saint Martin",),
    "sx": ("Sint Maarten",),
    "cc": ("Cocos Islands", "Keeling Islands"),
    "kn": ("St Kitts and Nevis", "St. Kitts and Nevis"),
    "lc": ("St Lucia", "St. Lucia"),
    "vc": ("St Vincent and the Grenadines", "St. Vincent and the Grenadines"),
    "gs": ("South Georgia",),
}

# Abbreviations and codes: matched only exactly as written here ("US", never "us").
EXACT_FORMS: dict[str, tuple[str, ...]] = {
    "us": ("US", "U.S.", "USA", "U.S.A.", "EE.UU.", "EE. UU.", "EEUU"),
    "gb": ("UK", "U.K."),
    "cd": ("DRC", "RDC"),
    "ae": ("UAE",),
    "kp": ("DPRK",),
    "kr": ("ROK",),
    "cf": ("CAR",),
    "sa": ("KSA",),
    "cn": ("PRC",),
    "ba": ("BiH",),
    # Spanish "La reunión" and French "à la réunion" mean "the meeting"
    "re": ("La Réunion", "La Reunion", "la Réunion", "la Reunion"),
}

# -- demonyms and adjectives (English) --------------------------------------------------
# Singular forms; plurals in -s are generated (not for -ese, -ish, -ch, -ss, -sh).
DEMONYMS: dict[str, tuple[str, ...]] = {
    "af": ("Afghan",), "al": ("Albanian",), "dz": ("Algerian",),
    "ao": ("Angolan",), "ar": ("Argentine", "Argentinian", "Argentinean"),
    "am": ("Armenian",), "au": ("Australian",), "at": ("Austrian",),
    "az": ("Azerbaijani", "Azeri"), "bh": ("Bahraini",), "bd": ("Bangladeshi",),
    "bb": ("Barbadian",), "by": ("Belarusian",), "be": ("Belgian",), "bz": ("Belizean",),
    "bj": ("Beninese",), "bt": ("Bhutanese",), "bo": ("Bolivian",), "ba": ("Bosnian",),
    "bw": ("Botswanan",), "br": ("Brazilian",), "gb": ("British", "Briton"),
    "bn": ("Bruneian",), "bg": ("Bulgarian",), "bf": ("Burkinabe", "Burkinabé"),
    "bi": ("Burundian",), "kh": ("Cambodian",), "cm": ("Cameroonian",),
    "ca": ("Canadian",), "cv": ("Cape Verdean", "Cabo Verdean"), "td": ("Chadian",),
    "cl": ("Chilean",), "cn": ("Chinese",), "co": ("Colombian",), "km": ("Comorian",),
    "cr": ("Costa Rican",), "hr": ("Croatian", "Croat"), "cu": ("Cuban",),
    "cy": ("Cypriot",), "cz": ("Czech",), "dk": ("Danish", "Dane"),
    "dj": ("Djiboutian",), "do": ("Dominican",), "ec": ("Ecuadorian", "Ecuadorean"),
    "eg": ("Egyptian",), "sv": ("Salvadoran", "Salvadorean", "Salvadorian"),
    "gq": ("Equatorial Guinean", "Equatoguinean"), "er": ("Eritrean",),
    "ee": ("Estonian",), "et": ("Ethiopian",), "fj": ("Fijian",), "fi": ("Finnish",),
    "fr": ("French",), "ga": ("Gabonese",), "gm": ("Gambian",), "ge": ("Georgian",),
    "de": ("German",), "gh": ("Ghanaian",), "gr": ("Greek",), "gt": ("Guatemalan",),
    "gn": ("Guinean",), "gw": ("Bissau-Guinean",), "gy": ("Guyanese",),
    "ht": ("Haitian",), "hn": ("Honduran",), "hu": ("Hungarian",), "is": ("Icelandic",),
    "in": ("Indian",), "id": ("Indonesian",), "ir": ("Iranian",), "iq": ("Iraqi",),
    "ie": ("Irish",), "il": ("Israeli",), "it": ("Italian",), "ci": ("Ivorian",),
    "jm": ("Jamaican",), "jp": ("Japanese",), "jo": ("Jordanian",),
    "kz": ("Kazakh", "Kazakhstani"), "ke": ("Kenyan",), "kw": ("Kuwaiti",),
    "kg": ("Kyrgyz",), "la": ("Laotian",), "lv": ("Latvian",), "lb": ("Lebanese",),
    "ls": ("Basotho",), "lr": ("Liberian",), "ly": ("Libyan",), "lt": ("Lithuanian",),
    "mg": ("Malagasy",), "mw": ("Malawian",), "my": ("Malaysian",), "mv": ("Maldivian",),
    "ml": ("Malian",), "mt": ("Maltese",), "mr": ("Mauritanian",), "mu": ("Mauritian",),
    "mx": ("Mexican",), "md": ("Moldovan",), "mn": ("Mongolian",), "me": ("Montenegrin",),
    "ma": ("Moroccan",), "mz": ("Mozambican",), "mm": ("Burmese",), "na": ("Namibian",),
    "np": ("Nepali", "Nepalese"), "nl": ("Dutch",), "nz": ("New Zealander",),
    "ni": ("Nicaraguan",), "ne": ("Nigerien",), "ng": ("Nigerian",),
    "kp": ("North Korean",), "mk": ("North Macedonian", "Macedonian"),
    "no": ("Norwegian",), "om": ("Omani",), "pk": ("Pakistani",), "ps": ("Palestinian",),
    "pa": ("Panamanian",), "pg": ("Papua New Guinean",), "py": ("Paraguayan",),
    "pe": ("Peruvian",), "ph": ("Filipino", "Philippine"), "pl": ("Polish",),
    "pt": ("Portuguese",), "pr": ("Puerto Rican",), "qa": ("Qatari",),
    "ro": ("Romanian",), "ru": ("Russian",), "rw": ("Rwandan",), "ws": ("Samoan",),
    "sa": ("Saudi",), "sn": ("Senegalese",), "rs": ("Serbian", "Serb"),
    "sc": ("Seychellois",), "sl": ("Sierra Leonean",), "sg": ("Singaporean",),
    "sk": ("Slovak",), "si": ("Slovenian", "Slovene"), "so": ("Somali",),
    "za": ("South African",), "kr": ("South Korean", "Korean"), "ss": ("South Sudanese",),
    "es": ("Spanish", "Spaniard"), "lk": ("Sri Lankan",), "sd": ("Sudanese",),
    "sr": ("Surinamese",), "sz": ("Swazi",), "se": ("Swedish", "Swede"), "ch": ("Swiss",),
    "sy": ("Syrian",), "tw": ("Taiwanese",), "tj": ("Tajik", "Tajikistani"),
    "tz": ("Tanzanian",), "th": ("Thai",), "tl": ("Timorese",), "tg": ("Togolese",),
    "to": ("Tongan",), "tt": ("Trinidadian",), "tn": ("Tunisian",), "tr": ("Turkish", "Turk"),
    "tm": ("Turkmen",), "ug": ("Ugandan",), "ua": ("Ukrainian",), "ae": ("Emirati",),
    "us": ("American",), "uy": ("Uruguayan",), "uz": ("Uzbek",), "ve": ("Venezuelan",),
    "vn": ("Vietnamese",), "ye": ("Yemeni",), "zm": ("Zambian",), "zw": ("Zimbabwean",),
}

# Demonyms that also name a language: "available in English, French and Spanish" is not
# about France or Spain.
LANGUAGE_DEMONYMS: frozenset[str] = frozenset({
    "French", "Spanish", "Portuguese", "German", "Dutch", "Italian", "Russian", "Chinese",
    "Japanese", "Korean", "Turkish", "Greek", "Thai", "Vietnamese", "Indonesian",
    "Filipino", "Burmese", "Nepali", "Somali", "Albanian", "Serbian", "Croatian",
    "Bosnian", "Romanian", "Bulgarian", "Ukrainian", "Polish", "Czech", "Hungarian",
    "Swedish", "Norwegian", "Danish", "Finnish", "Icelandic", "Irish", "Malagasy",
    "Armenian", "Georgian", "Azerbaijani", "Kazakh", "Uzbek", "Tajik", "Turkmen",
    "Kyrgyz", "Mongolian", "Lao", "Slovak", "Slovenian", "Estonian", "Latvian",
    "Lithuanian", "Maltese", "Macedonian",
})

# -- French and Spanish names -------------------------------------------------------------
FRENCH_NAMES: dict[str, tuple[str, ...]] = {
    "af": ("Afghanistan",), "za": ("Afrique du Sud",), "al": ("Albanie",),
    "dz": ("Algérie",), "de": ("Allemagne",), "sa": ("Arabie saoudite",),
    "ar": ("Argentine",), "am": ("Arménie",), "au": ("Australie",), "at": ("Autriche",),
    "az": ("Azerbaïdjan",), "bd": ("Bangladesh",), "be": ("Belgique",), "bj": ("Bénin",),
    "by": ("Biélorussie", "Bélarus"), "mm": ("Birmanie",), "bo": ("Bolivie",),
    "ba": ("Bosnie-Herzégovine",), "br": ("Brésil",), "bg": ("Bulgarie",),
    "kh": ("Cambodge",), "cm": ("Cameroun",), "cv": ("Cap-Vert",),
    "cf": ("République centrafricaine", "Centrafrique"), "cl": ("Chili",), "cn": ("Chine",),
    "cy": ("Chypre",), "co": ("Colombie",), "kr": ("Corée du Sud",), "kp": ("Corée du Nord",),
    "hr": ("Croatie",), "dk": ("Danemark",), "eg": ("Égypte",),
    "ae": ("Émirats arabes unis",), "ec": ("Équateur",), "er": ("Érythrée",),
    "es": ("Espagne",), "us": ("États-Unis", "États-Unis d'Amérique"), "et": ("Éthiopie",),
    "fi": ("Finlande",), "ga": ("Gabon",), "gm": ("Gambie",), "ge": ("Géorgie",),
    "gr": ("Grèce",), "gn": ("Guinée", "Guinée-Conakry"), "gw": ("Guinée-Bissau",),
    "gq": ("Guinée équatoriale",), "ht": ("Haïti",), "hu": ("Hongrie",), "in": ("Inde",),
    "id": ("Indonésie",), "iq": ("Irak",), "ie": ("Irlande",), "is": ("Islande",),
    "it": ("Italie",), "jm": ("Jamaïque",), "jp": ("Japon",), "jo": ("Jordanie",),
    "kz": ("Kazakhstan",), "kg": ("Kirghizistan",), "lb": ("Liban",), "lr": ("Libéria",),
    "ly": ("Libye",), "my": ("Malaisie",), "ma": ("Maroc",), "mr": ("Mauritanie",),
    "mx": ("Mexique",), "mk": ("Macédoine du Nord",), "me": ("Monténégro",),
    "np": ("Népal",), "no": ("Norvège",), "nz": ("Nouvelle-Zélande",), "ug": ("Ouganda",),
    "uz": ("Ouzbékistan",), "nl": ("Pays-Bas",), "pe": ("Pérou",), "pl": ("Pologne",),
    "cd": ("République démocratique du Congo", "RD Congo"),
    "cg": ("République du Congo",), "do": ("République dominicaine",),
    "cz": ("République tchèque", "Tchéquie"), "ro": ("Roumanie",),
    "gb": ("Royaume-Uni", "Grande-Bretagne", "Angleterre"), "ru": ("Russie",),
    "sn": ("Sénégal",), "rs": ("Serbie",), "sg": ("Singapour",), "so": ("Somalie",),
    "sd": ("Soudan",), "ss": ("Soudan du Sud",), "se": ("Suède",), "ch": ("Suisse",),
    "sy": ("Syrie",), "tj": ("Tadjikistan",), "tz": ("Tanzanie",), "td": ("Tchad",),
    "th": ("Thaïlande",), "tn": ("Tunisie",), "tm": ("Turkménistan",), "tr": ("Turquie",),
    "vn": ("Viêt Nam",), "ye": ("Yémen",), "zm": ("Zambie",), "zw": ("Zimbabwe",),
    "ci": ("Côte-d'Ivoire",), "mt": ("Malte",), "pt": ("Portugal",), "pk": ("Pakistan",),
    "ph": ("Philippines",), "ca": ("Canada",), "lk": ("Sri Lanka",),
}

SPANISH_NAMES: dict[str, tuple[str, ...]] = {
    "af": ("Afganistán",), "al": ("Albania",), "de": ("Alemania",),
    "sa": ("Arabia Saudita", "Arabia Saudí"), "dz": ("Argelia",), "am": ("Armenia",),
    "az": ("Azerbaiyán",), "bd": ("Bangladés",), "be": ("Bélgica",), "bz": ("Belice",),
    "bj": ("Benín",), "by": ("Bielorrusia",), "mm": ("Birmania",),
    "ba": ("Bosnia y Herzegovina",), "br": ("Brasil",), "cv": ("Cabo Verde",),
    "kh": ("Camboya",), "cm": ("Camerún",), "ca": ("Canadá",), "qa": ("Catar",),
    "cy": ("Chipre",), "kr": ("Corea del Sur",), "kp": ("Corea del Norte",),
    "ci": ("Costa de Marfil",), "hr": ("Croacia",), "dk": ("Dinamarca",),
    "eg": ("Egipto",), "ae": ("Emiratos Árabes Unidos",), "es": ("España",),
    "us": ("Estados Unidos", "Estados Unidos de América"), "et": ("Etiopía",),
    "ph": ("Filipinas",), "fi": ("Finlandia",), "fr": ("Francia",), "ga": ("Gabón",),
    "gr": ("Grecia",), "gw": ("Guinea-Bisáu",), "gq": ("Guinea Ecuatorial",),
    "ht": ("Haití",), "nl": ("Países Bajos", "Holanda"), "hu": ("Hungría",),
    "ie": ("Irlanda",), "ir": ("Irán",), "is": ("Islandia",), "it": ("Italia",),
    "jp": ("Japón",), "jo": ("Jordania",), "kz": ("Kazajistán",), "ke": ("Kenia",),
    "kg": ("Kirguistán",), "lb": ("Líbano",), "ly": ("Libia",), "lu": ("Luxemburgo",),
    "mk": ("Macedonia del Norte",), "my": ("Malasia",), "ml": ("Malí",),
    "mv": ("Maldivas",), "ma": ("Marruecos",), "mx": ("México", "Méjico"), "ne": ("Níger",),
    "no": ("Noruega",), "nz": ("Nueva Zelanda",), "om": ("Omán",), "pk": ("Pakistán",),
    "pa": ("Panamá",), "pe": ("Perú",), "pl": ("Polonia",),
    "gb": ("Reino Unido", "Gran Bretaña", "Inglaterra"),
    "cf": ("República Centroafricana",), "cd": ("República Democrática del Congo",),
    "cg": ("República del Congo",), "do": ("República Dominicana",),
    "cz": ("República Checa", "Chequia"), "ro": ("Rumania", "Rumanía"), "ru": ("Rusia",),
    "rw": ("Ruanda",), "sl": ("Sierra Leona",), "sg": ("Singapur",), "sy": ("Siria",),
    "za": ("Sudáfrica",), "sd": ("Sudán",), "ss": ("Sudán del Sur",), "se": ("Suecia",),
    "ch": ("Suiza",), "sr": ("Surinam",), "th": ("Tailandia",), "tj": ("Tayikistán",),
    "tn": ("Túnez",), "tm": ("Turkmenistán",), "tr": ("Turquía",), "ua": ("Ucrania",),
    "uz": ("Uzbekistán",), "dj": ("Yibuti",), "zw": ("Zimbabue",), "tt": ("Trinidad y Tobago",),
    "iq": ("Irak",), "ps": ("Palestina",), "lr": ("Liberia",), "gn": ("Guinea",),
}

# Adjectives in French and Spanish, written lower case in running text ("migrants
# maliens", "migrantes venezolanos"), so matched in any case. Base forms; the gazetteer
# adds the feminine and plural endings. Language names are left out on purpose.
FRENCH_ADJECTIVES: dict[str, tuple[str, ...]] = {
    "ml": ("malien",), "sn": ("sénégalais",), "ne": ("nigérien",), "ng": ("nigérian",),
    "gn": ("guinéen",), "ci": ("ivoirien",), "bf": ("burkinabè",), "cm": ("camerounais",),
    "td": ("tchadien",), "sd": ("soudanais",), "er": ("érythréen",), "et": ("éthiopien",),
    "so": ("somalien",), "ly": ("libyen",), "tn": ("tunisien",), "dz": ("algérien",),
    "ma": ("marocain",), "mr": ("mauritanien",), "eg": ("égyptien",), "sy": ("syrien",),
    "iq": ("irakien",), "pk": ("pakistanais",), "bd": ("bangladais",), "gm": ("gambien",),
    "gh": ("ghanéen",), "tg": ("togolais",), "bj": ("béninois",), "lb": ("libanais",),
    "jo": ("jordanien",), "ye": ("yéménite",), "ir": ("iranien",), "mx": ("mexicain",),
    "gt": ("guatémaltèque",), "hn": ("hondurien",), "sv": ("salvadorien",),
    "ve": ("vénézuélien",), "co": ("colombien",), "ht": ("haïtien",), "cu": ("cubain",),
    "ec": ("équatorien",), "pe": ("péruvien",), "th": ("thaïlandais",),
}

SPANISH_ADJECTIVES: dict[str, tuple[str, ...]] = {
    "ml": ("maliense",), "sn": ("senegalés",), "ne": ("nigerino",), "ng": ("nigeriano",),
    "gn": ("guineano",), "ci": ("marfileño",), "cm": ("camerunés",), "td": ("chadiano",),
    "sd": ("sudanés",), "er": ("eritreo",), "et": ("etíope",), "so": ("somalí",),
    "ly": ("libio",), "tn": ("tunecino",), "dz": ("argelino",), "ma": ("marroquí",),
    "mr": ("mauritano",), "eg": ("egipcio",), "sy": ("sirio",), "af": ("afgano",),
    "iq": ("iraquí",), "pk": ("paquistaní", "pakistaní"), "bd": ("bangladesí",),
    "gh": ("ghanés",), "lb": ("libanés",), "jo": ("jordano",), "ye": ("yemení",),
    "ir": ("iraní",), "mx": ("mexicano",), "gt": ("guatemalteco",), "hn": ("hondureño",),
    "sv": ("salvadoreño",), "ni": ("nicaragüense",), "cr": ("costarricense",),
    "pa": ("panameño",), "ve": ("venezolano",), "co": ("colombiano",),
    "ec": ("ecuatoriano",), "pe": ("peruano",), "bo": ("boliviano",), "br": ("brasileño",),
    "ar": ("argentino",), "cl": ("chileno",), "cu": ("cubano",), "ht": ("haitiano",),
    "do": ("dominicano",), "us": ("estadounidense",), "ca": ("canadiense",),
}

# -- phrases that are not a country ------------------------------------------------------
# Longest match wins, so each of these hides the country name inside it.
NOT_COUNTRIES: tuple[str, ...] = (
    # seas, gulfs, oceans, straits
    "Gulf of Guinea", "Golfe de Guinée", "Golfo de Guinea", "Indian Ocean",
    "Indian Ocean Commission", "Bight of Benin", "Gulf of Mexico", "Golfe du Mexique",
    "Golfo de México", "South China Sea", "East China Sea", "Strait of Gibraltar",
    "Straits of Gibraltar", "Détroit de Gibraltar", "Estrecho de Gibraltar",
    "Irish Sea", "Sea of Japan",
    "Gulf of Oman",
    # rivers, lakes, basins
    "Niger River", "River Niger", "Niger Basin", "Niger River Basin", "Lake Chad",
    "Lake Chad Basin", "Lac Tchad", "Lago Chad", "Congo River", "River Congo",
    "Congo Basin", "Fleuve Congo", "Fleuve Niger", "Río Níger", "Jordan River",
    "River Jordan", "Jordan Valley", "Senegal River", "Gambia River", "River Gambia",
    # islands and regions shared by several countries, US states
    "New Guinea", "Nouvelle-Guinée",
    "Latin America", "Central America", "South America", "North America",
    "Latin American", "Central American", "South American", "North American",
    "Latin Americans", "Central Americans", "South Americans", "North Americans",
    "Native Americans", "Central Africans",
    "Inter-American", "Pan-American", "Native American", "American Indian", "West Indian",
    "Central African",
    "Korean Peninsula", "Guinea pig", "Guinea pigs", "Guinea fowl", "Guinea worm",
    "Kongo Central", "Virgin Islands", "US$", "U.S.$", "US dollar", "US dollars",
    "U.S. dollar", "U.S. dollars", "Guinea Current", "Gulf of Aden", "Golfe d'Aden",
    "Golfo de Adén", "Gulf of Aqaba", "Gulf of Thailand", "Gulf of Honduras", "Philippine Sea",
    "Libyan Sea", "Mozambique Channel", "Lake Malawi", "Darién Gap", "Darien Gap",
)
# A form written with a lower-case initial matches in any case (French and Spanish
# write the common noun in lower case: "golfe de Guinée"); this holds in every table.
NOT_COUNTRIES_ANY_CASE: tuple[str, ...] = (
    "golfe de Guinée", "golfo de Guinea", "océan Indien", "océano Índico", "fleuve Niger",
    "río Níger", "rio Niger", "lac Tchad", "lago Chad", "fleuve Congo", "río Congo",
    "bassin du Congo", "cuenca del Congo",
)

# Phrases that name a place inside a country: "Niger Delta" is in Nigeria.
INSIDE_COUNTRY: dict[str, tuple[str, ...]] = {
    "ng": ("Niger Delta", "Niger State", "Benin City", "delta du Niger", "delta del Níger",
           "Edo State", "Borno", "Sokoto", "Delta State"),
    "so": ("Puntland",),
    "sd": ("Darfur", "Kassala", "Gedaref", "Kordofan", "El Geneina"),
    "es": ("Canary Islands", "Canaries", "Islas Canarias", "Îles Canaries", "Balearic Islands",
           "Andalusia", "Fuerteventura"),
    "it": ("Sicily", "Sicile", "Sicilia", "Calabria", "Sardinia", "Apulia", "Puglia", "Pozzallo",
           "Trieste"),
    "cy": ("Turkish Cypriot", "Greek Cypriot", "Northern Cyprus"),
    "pt": ("Azores", "Madeira"),
    # regions and provinces on the routes
    "ne": ("Tahoua", "Tillabéri", "Diffa", "Maradi"),
    "ly": ("Fezzan", "Cyrenaica", "Tripolitania"),
    "et": ("Tigray", "Oromia", "Metema"),
    "td": ("Tibesti", "Faya-Largeau"),
    "mm": ("Rakhine",),
    "id": ("Aceh", "Batam"),
    "my": ("Sabah", "Johor"),
    "gr": ("Evros", "Rhodes", "Pylos", "Gavdos"),
    "fr": ("Corsica", "Boulogne-sur-Mer", "Gravelines"),
    "gb": ("Kent", "Folkestone"),
    "ba": ("Bihać", "Velika Kladuša"),
    "rs": ("Subotica",),
    "tr": ("Bodrum",),
    "pa": ("Darién", "Darien"),
    "gt": ("Tecún Umán",),
    "af": ("Nimroz",),
    "ir": ("Zahedan", "Mashhad"),
    "au": ("New South Wales",),
    "mx": ("Chiapas", "Tamaulipas", "Sonora", "Oaxaca", "Baja California", "Veracruz",
           "Reynosa", "Matamoros", "Nuevo Laredo", "Piedras Negras"),
    # US states, and the border towns of the smuggling cases
    "us": ("Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado",
           "Connecticut", "Delaware", "Florida", "Hawaii", "Idaho", "Illinois", "Indiana",
           "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts",
           "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska",
           "Nevada", "New Hampshire", "New Jersey", "New Mexico", "New York State",
           "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania",
           "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah",
           "Vermont", "Virginia", "West Virginia", "Wisconsin", "Wyoming", "Jersey City",
           "Laredo", "Las Cruces", "McAllen", "Brownsville", "San Antonio", "Tucson"),
    "ps": ("Gaza Strip", "West Bank"),
}

# Names that are also first names or surnames: a capitalized word after them that is
# not one of these makes a person ("Georgia Mendes", "Jordan Okello", "Chad Miller").
PERSON_PRONE: frozenset[str] = frozenset({
    "Georgia", "Jordan", "Chad", "India", "Israel", "Kenya", "Virginia", "Indiana", "Montana",
    "Washington", "Florida",
})
COUNTRY_FOLLOWERS: frozenset[str] = frozenset({
    "Government", "Ministry", "Minister", "Ministers", "Police", "Army", "Armed", "Air",
    "Navy", "National", "Immigration", "Coast", "Border", "Red", "Embassy", "Mission",
    "Parliament", "Prime", "President", "King", "Queen", "Customs", "Central", "Supreme",
    "Court", "Office", "Country", "Delegation", "Times", "Post", "Today", "Republic",
    "Kingdom", "Authorities", "Authority", "Agency", "Department", "Directorate",
    "Service", "Services", "Forces", "Defence", "Defense", "Federal", "Province", "Region",
    "Team", "Committee", "Council", "Commission", "Section", "Unit", "Programme",
    "Program", "Project", "Chamber", "Bar", "Institute", "University", "Airport", "Port",
    "Hub", "Airways", "Airlines", "Railways", "Radio", "Television", "News", "Cabinet", "Senate", "Assembly", "General", "Attorney", "Public", "Prosecution",
    "Prosecutor", "Gendarmerie", "Guard", "Guards", "Interior", "Foreign", "Justice",
    "Security", "Labour", "Labor", "Health", "Refugee", "Refugees", "Crisis", "Response",
    "Plan", "Strategy", "Action", "Law", "Act", "Constitution", "Election", "Elections",
    "Electoral", "Chapter", "Branch", "Centre", "Center", "Desk", "Operation", "Operations",
    "In", "And", "Of", "On", "To", "For", "At", "By", "With", "From", "Is", "Are", "Has",
    "Have", "Was", "Were", "Will", "The", "A", "An", "As", "Or", "But",
})
# A title before the name makes a person too ("Ms. Jordan").
PERSON_TITLES: frozenset[str] = frozenset({
    "Mr", "Mrs", "Ms", "Miss", "Dr", "Prof", "Professor", "Sir", "Dame", "Mr.", "Mrs.",
    "Ms.", "Dr.", "Prof.", "Judge", "Officer", "Sergeant", "Captain", "Inspector",
})
# Words that may precede a country with a capital (sentence start, directions): never
# a first name.
NOT_FIRST_NAMES: frozenset[str] = frozenset({
    "In", "And", "Of", "From", "To", "For", "With", "At", "By", "On", "The", "Both",
    "Across", "Including", "Like", "Neighbouring", "Neighboring", "Northern", "Southern",
    "Eastern", "Western", "Central", "North", "South", "East", "West", "Upper", "Lower",
    "Greater", "Kingdom", "Republic", "Hashemite", "Via", "Through", "Into", "Between",
    "Than", "Or", "Nor", "But", "Also", "Only", "Rural", "Urban", "Visiting", "Visit",
    "Leaving", "Entering", "Crossing", "Inside", "Outside", "Within", "Post-war",
    "Modern", "Independent", "Today", "Yesterday", "While", "Where", "When", "After",
    "Before", "Since", "Until", "Unlike", "Beyond", "Toward", "Towards", "Near",
    "Under", "Over", "About", "Against", "Along", "Around", "Behind", "Below",
})
# Words near "Georgia" that make it the US state.
US_GEORGIA_CUES: tuple[str, ...] = (
    "atlanta", "savannah", "macon", "u.s. state", "us state", "american state",
    "state of georgia", "georgia state", "georgia tech", "georgia, usa", "georgia, u.s.",
    "georgia (us)", "georgia (usa)", "georgia (u.s.)", "georgia, united states",
    "u.s. district", "district court", "federal court", "u.s. attorney", "county",
)

# -- places -------------------------------------------------------------------------------
# (iso2, English name, other spellings...). Capitals and the towns on smuggling routes.
# CITIES are also country mentions in running text (a dateline names a place too);
# LOOKUP_ONLY_CITIES are only trusted as a venue ("Male, Maldives"), since as words they
# mean something else ("male", "Sofia", "Santiago", French "Vienne" the département).
CITIES: tuple[tuple[str, ...], ...] = (
    ("eg", "Cairo", "Le Caire", "El Cairo"), ("eg", "Aswan"),
    ("ly", "Tripoli", "Trípoli"), ("ly", "Benghazi", "Bengasi"),
    ("ly", "Kufra", "Koufra", "Al Kufrah"), ("ly", "Sabha", "Sebha"),
    ("ly", "Misrata", "Misurata"), ("ly", "Zuwara", "Zuwarah"), ("ly", "Zawiya"),
    ("ly", "Tobruk"), ("tn", "Tunis"), ("tn", "Sfax"), ("tn", "Zarzis"), ("tn", "Sousse"),
    ("tn", "Kerkennah"), ("dj", "Obock"), ("ye", "Marib"), ("sa", "Jazan", "Jizan"),
    ("dz", "In Guezzam"),
    ("dz", "Algiers", "Alger", "Argel"), ("dz", "Tamanrasset"), ("dz", "Oran"),
    ("ma", "Rabat"), ("ma", "Casablanca"), ("ma", "Tangier", "Tanger"), ("ma", "Nador"),
    ("ma", "Oujda"), ("ma", "Marrakech", "Marrakesh"), ("mr", "Nouakchott"),
    ("mr", "Nouadhibou"), ("sn", "Dakar"), ("sn", "Ziguinchor"), ("gm", "Banjul"),
    ("gn", "Conakry"), ("gw", "Bissau"), ("ml", "Bamako"), ("ml", "Timbuktu", "Tombouctou"),
    ("ml", "Kidal"), ("ml", "Mopti"), ("ne", "Niamey"), ("ne", "Agadez"), ("ne", "Arlit"),
    ("ne", "Zinder"), ("ne", "Dirkou"), ("ng", "Abuja"), ("ng", "Lagos"), ("ng", "Kano"),
    ("ng", "Katsina"), ("ng", "Port Harcourt"), ("ng", "Maiduguri"),
    ("td", "N'Djamena", "Ndjamena", "N'Djaména"), ("td", "Abéché"),
    ("sd", "Khartoum", "Jartum"), ("sd", "Port Sudan"), ("sd", "Omdurman"),
    ("ss", "Juba"), ("ss", "Renk"), ("er", "Asmara"),
    ("et", "Addis Ababa", "Addis-Abeba", "Addis Abeba"), ("so", "Mogadishu", "Mogadiscio"),
    ("so", "Bosaso", "Bossaso"), ("so", "Hargeisa"), ("ke", "Nairobi"), ("ke", "Mombasa"),
    ("ug", "Kampala"), ("rw", "Kigali"), ("bi", "Bujumbura"), ("tz", "Dar es Salaam"),
    ("tz", "Dodoma"), ("cd", "Kinshasa"), ("cd", "Goma"), ("cd", "Lubumbashi"),
    ("cd", "Bukavu"), ("cg", "Brazzaville"), ("cg", "Pointe-Noire"),
    ("cm", "Yaoundé", "Yaounde"), ("cm", "Douala"), ("cf", "Bangui"), ("ga", "Libreville"),
    ("gq", "Malabo"), ("ao", "Luanda"), ("za", "Pretoria"), ("za", "Johannesburg"),
    ("za", "Cape Town"), ("za", "Durban"), ("zw", "Harare"), ("zm", "Lusaka"),
    ("mw", "Lilongwe"), ("mz", "Maputo"), ("na", "Windhoek"), ("bw", "Gaborone"),
    ("gh", "Accra"), ("tg", "Lomé", "Lome"), ("bj", "Cotonou"), ("bj", "Porto-Novo"),
    ("bf", "Ouagadougou"), ("ci", "Abidjan"), ("ci", "Yamoussoukro"), ("lr", "Monrovia"),
    ("sl", "Freetown"), ("cv", "Praia"), ("mg", "Antananarivo"), ("mu", "Port Louis"),
    ("jo", "Amman"), ("lb", "Beirut", "Beyrouth"), ("sy", "Damascus", "Damas", "Damasco"),
    ("sy", "Aleppo", "Alep"), ("iq", "Baghdad", "Bagdad"), ("iq", "Erbil"), ("iq", "Basra"),
    ("ir", "Tehran", "Téhéran", "Teherán"), ("tr", "Ankara"), ("tr", "Istanbul", "Estambul"),
    ("tr", "Izmir"), ("tr", "Edirne"), ("il", "Tel Aviv"), ("ps", "Ramallah"),
    ("sa", "Riyadh", "Riad"), ("sa", "Jeddah"), ("ae", "Dubai"), ("ae", "Abu Dhabi"),
    ("qa", "Doha"), ("kw", "Kuwait City"), ("bh", "Manama"), ("om", "Muscat", "Mascate"),
    ("ye", "Sanaa", "Sana'a"), ("ye", "Aden"), ("cy", "Nicosia"),
    ("ge", "Tbilisi", "Tiflis"), ("am", "Yerevan", "Erevan", "Ereván"),
    ("az", "Baku", "Bakou", "Bakú"), ("af", "Kabul", "Kaboul"), ("af", "Herat"),
    ("pk", "Islamabad"), ("pk", "Karachi"), ("pk", "Lahore"), ("pk", "Quetta"),
    ("pk", "Peshawar"), ("in", "New Delhi", "Delhi"), ("in", "Mumbai"), ("in", "Kolkata"),
    ("in", "Chennai"), ("bd", "Dhaka", "Dacca"), ("bd", "Cox's Bazar"),
    ("bd", "Chittagong", "Chattogram"), ("lk", "Colombo"),
    ("np", "Kathmandu", "Katmandou", "Katmandú"), ("bt", "Thimphu"),
    ("th", "Bangkok"), ("th", "Chiang Mai"), ("th", "Mae Sot"), ("vn", "Hanoi", "Ha Noi"),
    ("vn", "Ho Chi Minh City"), ("kh", "Phnom Penh"), ("la", "Vientiane"),
    ("mm", "Yangon", "Rangoon"), ("mm", "Naypyidaw", "Nay Pyi Taw"),
    ("my", "Kuala Lumpur"), ("id", "Jakarta", "Yakarta"), ("id", "Bali"),
    ("ph", "Manila", "Manille"), ("tl", "Dili"), ("bn", "Bandar Seri Begawan"),
    ("cn", "Beijing", "Pékin", "Pekín"), ("cn", "Shanghai"), ("jp", "Tokyo", "Tokio"),
    ("kr", "Seoul", "Séoul", "Seúl"), ("kp", "Pyongyang"), ("mn", "Ulaanbaatar"),
    ("kz", "Astana"), ("kz", "Almaty"), ("kg", "Bishkek"), ("tj", "Dushanbe"),
    ("tm", "Ashgabat"), ("uz", "Tashkent"), ("fr", "Paris", "París"), ("fr", "Calais"),
    ("fr", "Dunkirk", "Dunkerque"), ("fr", "Marseille", "Marseilles"), ("de", "Berlin",
    "Berlín"), ("de", "Munich"), ("de", "Frankfurt"), ("de", "Hamburg"),
    ("it", "Rome", "Roma"), ("it", "Lampedusa"), ("it", "Palermo"), ("it", "Catania"),
    ("it", "Milan", "Milano", "Milán"), ("it", "Naples", "Napoli"), ("it", "Crotone"),
    ("it", "Bari"), ("es", "Madrid"), ("es", "Ceuta"), ("es", "Melilla"),
    ("es", "Barcelona"), ("es", "Algeciras"), ("es", "Tarifa"), ("es", "Almería"),
    ("es", "Lanzarote"), ("es", "Tenerife"), ("es", "Gran Canaria"), ("es", "El Hierro"),
    ("pt", "Lisbon", "Lisbonne", "Lisboa"), ("gr", "Athens", "Athènes", "Atenas"),
    ("gr", "Lesbos", "Lesvos"), ("gr", "Chios"), ("gr", "Samos"), ("gr", "Crete", "Crète",
    "Creta"), ("gr", "Thessaloniki"), ("mt", "Valletta", "La Valette", "La Valeta"),
    ("gb", "London", "Londres"), ("gb", "Dover"), ("gb", "Manchester"), ("gb", "Belfast"),
    ("gb", "Glasgow"), ("gb", "Edinburgh"), ("ie", "Dublin"),
    ("pl", "Warsaw", "Varsovie", "Varsovia"), ("hu", "Budapest"),
    ("ro", "Bucharest", "Bucarest"), ("rs", "Belgrade", "Belgrado"), ("hr", "Zagreb"),
    ("ba", "Sarajevo"), ("mk", "Skopje"), ("al", "Tirana"), ("me", "Podgorica"),
    ("si", "Ljubljana"), ("sk", "Bratislava"), ("cz", "Prague", "Praga"),
    ("ua", "Kyiv", "Kiev"), ("by", "Minsk"), ("ru", "Moscow", "Moscou", "Moscú"),
    ("md", "Chisinau", "Chișinău"), ("lt", "Vilnius"), ("lv", "Riga"), ("ee", "Tallinn"),
    ("fi", "Helsinki"), ("se", "Stockholm", "Estocolmo"), ("no", "Oslo"),
    ("dk", "Copenhagen", "Copenhague"), ("is", "Reykjavik"),
    ("at", "Vienna", "Viena", "Wien"), ("ch", "Geneva", "Genève", "Ginebra"),
    ("ch", "Bern", "Berne"), ("nl", "The Hague", "La Haye", "La Haya", "Den Haag"),
    ("be", "Brussels", "Bruxelles", "Bruselas"), ("us", "New York", "Nueva York"),
    ("us", "Washington"), ("fr", "Lyon"), ("fr", "Strasbourg"), ("nl", "Amsterdam"),
    ("nl", "Rotterdam"), ("be", "Antwerp", "Anvers", "Amberes"), ("ch", "Zurich", "Zürich"),
    ("lu", "Luxembourg City"), ("us", "Los Angeles"), ("us", "Miami"), ("us", "Houston"), ("us", "El Paso"),
    ("us", "San Diego"), ("us", "Atlanta"), ("us", "Chicago"), ("ca", "Ottawa"),
    ("ca", "Toronto"), ("ca", "Montreal", "Montréal"),
    ("mx", "Mexico City", "Ciudad de México"), ("mx", "Tapachula"),
    ("mx", "Tijuana"), ("mx", "Ciudad Juárez"), ("mx", "Monterrey"),
    ("gt", "Guatemala City", "Ciudad de Guatemala"), ("hn", "Tegucigalpa"),
    ("hn", "San Pedro Sula"), ("sv", "San Salvador"), ("ni", "Managua"),
    ("pa", "Panama City", "Ciudad de Panamá"), ("co", "Bogotá", "Bogota"),
    ("co", "Necoclí"), ("co", "Medellín"), ("co", "Cartagena"), ("ve", "Caracas"),
    ("ec", "Quito"), ("ec", "Guayaquil"), ("pe", "Lima"), ("br", "Brasília"),
    ("br", "São Paulo"), ("br", "Rio de Janeiro"), ("ar", "Buenos Aires"),
    ("py", "Asunción"), ("uy", "Montevideo"), ("cu", "Havana", "La Habana", "La Havane"),
    ("ht", "Port-au-Prince"), ("do", "Santo Domingo"), ("tt", "Port of Spain"),
    ("bz", "Belmopan"), ("au", "Canberra"), ("au", "Sydney"), ("au", "Melbourne"),
    ("nz", "Wellington"), ("nz", "Auckland"), ("pg", "Port Moresby"), ("fj", "Suva"),
)
LOOKUP_ONLY_CITIES: tuple[tuple[str, ...], ...] = (
    ("at", "Vienna", "Vienne"), ("fr", "Lyon", "Lyons"), ("mv", "Malé", "Male"), ("ml", "Gao"), ("eg", "Alexandria", "Alexandrie", "Alejandría"),
    ("bg", "Sofia"), ("cr", "San José", "San Jose"), ("bo", "La Paz"),
    ("cl", "Santiago", "Santiago de Chile"), ("jm", "Kingston"), ("gy", "Georgetown"),
    ("sc", "Victoria"),
)
