"""The shipped topic rules, in the shape of ``[tags.<name>]`` tables (see :mod:`aggregator.tagging`).

A ``[tags.<name>]`` table in ``config.toml`` replaces the rule of the same name whole;
``enabled = false`` removes it. Terms are folded (case, accents) and matched on word
boundaries; ``*`` ends a word prefix; spaces in a term match spaces or hyphens.

How these were chosen: a bare word is a term only where it has no common innocent
sense in news on migration and crime ("smuggler*" yes; "meeting", "course", "law",
"operation", "report" no: "meeting the demand", "the course of the river", "law
enforcement", "humanitarian operations", "migrants report paying" would all match).
Such words appear in phrases instead ("regional meeting", "online course", "new law",
"joint operation", "new report"). ``none`` vetoes a whole rule, so vetoes are kept to
phrases that mean a different subject (drug smugglers, a training camp).
"""

from __future__ import annotations

from typing import Any

#: Topics that say what a story is about (a meeting, a report, an arrest) are read in
#: the title, the summary (or the lead of the text, when there is no summary) and the
#: categories: a followed page's full text names past meetings, related publications
#: and laws in passing, and its "Related information" box lists more.
SUBJECT_FIELDS = ["title", "summary", "categories"]

# Things smuggled that are not people: "<x> smuggling/smugglers", "smuggling of <x>".
_GOODS_EN = (
    "drug", "drugs", "narcotics", "cocaine", "heroin", "cannabis", "methamphetamine",
    "opium", "arms", "weapon", "weapons", "firearm", "firearms", "gun", "guns", "ammunition",
    "cigarette", "cigarettes", "tobacco", "wildlife", "ivory", "rhino horn", "pangolin",
    "pangolins", "timber", "fuel", "oil", "petrol", "diesel", "gold", "diamonds", "minerals",
    "antiquities", "artefacts", "artifacts", "cultural property", "goods", "contraband",
    "alcohol", "medicines", "counterfeit goods",
)

_MIGRANT_SMUGGLING_NONE_EN = [
    *(f"{g} smuggl*" for g in _GOODS_EN),
    *(f"smuggl* of {g}" for g in _GOODS_EN),
    *(f"smuggl* {g}" for g in _GOODS_EN),
]

DEFAULT_RULES: dict[str, dict[str, Any]] = {
    # Smuggling of migrants: procuring someone's irregular entry for profit. Not
    # smuggling of drugs, arms, cigarettes, wildlife or fuel (vetoed when named).
    "migrant-smuggling": {
        "any": {
            "en": [
                "migrant smuggl*", "migrants smuggl*", "smuggl* migrant*",
                "smuggl* of migrant*", "people smuggl*", "human smuggl*", "smuggl* people",
                "smuggl* of people", "smuggl* of persons", "smuggl* refugee*",
                "smuggl* asylum seeker*", "smuggler*", "smuggling", "smuggled",
                "facilitat* illegal immigration", "facilitat* irregular migration",
                "facilitat* illegal entry", "facilitat* irregular entry",
                "coyote*", "snakehead*",
            ],
            "fr": [
                "trafic* illicite* de migrant*", "trafic* de migrant*", "passeur*",
                "introduction clandestine de migrant*", "migrants objets d'un trafic",
                "migrants objets de trafic", "aide a l'entree irreguliere",
                "aide a l'immigration irreguliere",
            ],
            "es": [
                "trafico ilicito de migrantes", "trafico de migrantes",
                "traficante* de migrantes", "migrantes objeto de trafico", "coyote*",
                "pollero*", "contrabando de migrantes", "contrabando de personas",
            ],
            "ru": [
                "незаконн* ввоз* мигрант*", "незаконн* провоз* мигрант*",
                "контрабанд* мигрант*", "контрабанд* людей",
            ],
        },
        "none": {
            "en": _MIGRANT_SMUGGLING_NONE_EN,
            "fr": ["passeur* de drogue*", "passeur* de cocaine"],
            "es": ["coyote* de la droga"],
        },
    },
    # Trafficking in persons (exploitation by force, fraud or coercion). Never a bare
    # "trafficking" or "traffickers": drug and arms trafficking read the same.
    "human-trafficking": {
        "body_matches": 2,
        "any": {
            "en": [
                "trafficking in persons", "trafficking in human beings", "trafficking in people",
                "trafficking in women", "trafficking in children", "trafficking of persons",
                "trafficking of people", "trafficking of human beings", "trafficking of women",
                "trafficking of children", "trafficking of girls", "human trafficking",
                "human traffickers", "child trafficking", "sex trafficking", "labour trafficking",
                "labor trafficking", "trafficked person*", "trafficked people",
                "trafficked women", "trafficked children", "trafficked girls",
                "trafficked victims", "been trafficked", "were trafficked", "was trafficked",
                "victim* of trafficking", "trafficking victim*", "trafficking survivor*",
                "survivors of trafficking", "anti trafficking", "counter trafficking",
                "trafficking for sexual", "trafficking for forced", "trafficking for labour",
                "trafficking for labor", "trafficking for the purpose*", "trafficking for organ*",
                "forced criminality", "scam compound*", "scam centre*", "scam center*",
            ],
            "fr": [
                "traite des etres humains", "traite d'etres humains", "traite des personnes",
                "traite de personnes", "traite des femmes", "traite des enfants",
                "traite a des fins", "victime* de la traite", "victime* de traite",
                "lutte contre la traite", "trafic d'etres humains", "trafiquant* d'etres humains",
                # "la traite": the treaty (le traité, folded "traite") is masculine
                "la traite",
            ],
            "es": [
                "trata de personas", "trata de seres humanos", "trata de mujeres",
                "trata de ninas", "trata de ninos", "trata con fines", "victima* de trata",
                "victima* de la trata", "tratante*", "trafico de seres humanos",
                "lucha contra la trata",
            ],
            "ru": ["торговл* людьми", "торговц* людьми"],
        },
        # "se trata de personas que…" is "these are people who…"
        "none": {"es": ["se trata de personas", "no se trata de personas"]},
    },
    # A meeting as the subject: expert group meetings, conferences, workshops,
    # consultations, seminars, fora, summits, round tables.
    "meeting": {
        "body_matches": 2,
        "fields": SUBJECT_FIELDS,
        "any": {
            "en": [
                "expert group meeting*", "expert meeting*", "experts meeting*", "egm",
                "regional meeting*", "interregional meeting*", "international meeting*",
                "ministerial meeting*", "high level meeting*", "annual meeting*",
                "coordination meeting*", "technical meeting*", "bilateral meeting*",
                "working group meeting*", "meeting on", "meetings on", "meeting of",
                "a meeting", "the meeting", "one day meeting", "two day meeting",
                "three day meeting", "four day meeting", "five day meeting",
                "day consultation*", "day workshop*", "day conference*", "day forum*",
                "met in", "met at", "meet in", "will meet", "convened", "will convene",
                "conference on", "conferences on", "conference of", "a conference",
                "the conference", "regional conference*", "international conference*",
                "ministerial conference*", "annual conference*", "global conference*",
                "crime congress", "congress on", "summit*", "seminar*", "symposium", "symposia",
                "webinar*", "workshop on", "workshops on", "workshop in", "a workshop",
                "the workshop", "regional workshop*", "national workshop*",
                "subregional workshop*", "sub regional workshop*", "technical workshop*",
                "round table*", "roundtable*", "expert consultation*", "regional consultation*",
                "national consultation*", "consultation on", "consultations on",
                "the consultation", "forum on", "the forum", "regional forum", "global forum",
                "international forum", "side event*", "high level event*",
                "session of", "sessions of", "plenary session*", "special session*",
                "annual session*", "regular session*", "crime commission",
                "commission on crime prevention", "commission on narcotic drugs",
                "conference of the parties", "working group on smuggling",
                "working group on trafficking",
            ],
            "fr": [
                "reunion*", "seminaire*", "colloque*", "webinaire*", "atelier sur",
                "ateliers sur", "atelier regional", "atelier national", "atelier technique",
                "atelier de formation", "atelier de validation", "atelier d'experts",
                "conference sur", "conference regionale", "conference internationale",
                "conference ministerielle", "conference des parties", "table* ronde*",
                "forum sur", "forum regional", "forum international", "sommet sur",
                "sommet mondial", "sommet regional", "sommet international",
                "se sont reunis", "se reuniront", "consultation regionale",
                "consultation d'experts",
            ],
            "es": [
                "reunion*", "seminario*", "simposio*", "webinario*", "taller sobre",
                "talleres sobre", "taller regional", "talleres regionales", "taller nacional",
                "taller de capacitacion", "taller de formacion", "taller de expertos",
                "taller tecnico", "el taller", "conferencia sobre", "conferencia regional",
                "conferencia internacional", "conferencia ministerial",
                "conferencia de las partes", "foro sobre", "foro regional", "foro internacional",
                "cumbre", "mesa* redonda*", "encuentro regional", "encuentro internacional",
                "encuentro sobre", "encuentro de expertos", "se reunieron", "se reuniran",
                "consulta regional", "consulta de expertos",
            ],
            "ru": [
                "совещани*", "конференци*", "семинар*", "круглы* стол*", "форум*", "саммит*",
                "заседани*", "встреч* экспертов",
            ],
        },
        "none": {
            "fr": ["ile de la reunion", "departement de la reunion"],
            "ru": ["пресс конференци*"],
        },
    },
    # Training of officials and practitioners: courses, workshops for prosecutors,
    # curricula and modules, e-learning, capacity-building.
    "training": {
        "body_matches": 2,
        "fields": SUBJECT_FIELDS,
        "any": {
            "en": [
                "training", "trainings", "trained", "trainer*", "trainee*",
                "train the trainer*", "train* prosecutors", "train* judges", "train* officers",
                "train* officials", "train* police", "train* border", "train* investigators",
                "train* law enforcement", "train* immigration", "train* together",
                "train side by side", "online course*", "e learning course*", "course on",
                "courses on", "course for", "courses for", "a course", "the course",
                "advanced course*", "basic course*", "day course*", "week course*",
                "e learning", "elearning", "curriculum", "curricula", "module*",
                "capacity building", "workshop for", "workshops for", "mock trial*",
                "simulation exercise*", "mentoring",
            ],
            "fr": [
                "formation", "formations", "formateur*", "stagiaire*", "cours en ligne",
                "cours de formation", "renforcement des capacites", "ont ete formes",
                "ont ete formees", "module*", "apprentissage en ligne", "e learning",
            ],
            "es": [
                "capacit*", "formacion", "entrenamiento", "curso de capacitacion",
                "curso de formacion", "curso sobre", "cursos sobre", "curso en linea",
                "curso virtual", "curso para", "cursos para", "fortalecimiento de capacidades",
                "modulo*", "formadores", "instructores",
            ],
            "ru": ["обучени*", "тренинг*", "учебн* курс*", "повышени* квалификации"],
        },
        "none": {
            # "the course of the river", "in the course of", "of course"
            "en": ["course of", "of course", "golf course*", "vocational training",
                   "training camp*", "military training", "skills training"],
            # "investigación en curso" is an ongoing investigation
            "es": ["en curso"],
        },
    },
    # A report, study, manual, toolkit, handbook, guide or brief being published or
    # launched; also publishers' categories (Publication, Situation Report).
    "publication": {
        "body_matches": 2,
        "fields": SUBJECT_FIELDS,
        "any": {
            "en": [
                "publication*", "new report*", "a report", "the report", "report on",
                "reports on", "report finds", "report found", "report shows", "report warns",
                "report says", "report released", "report published", "report launched",
                "report presented", "annual report*", "global report*", "world report*",
                "drug report*", "research report*", "monitoring report*", "situation report*",
                "flash update*", "threat assessment*", "new study", "a study", "the study",
                "global study", "study on", "study finds", "study found", "study shows",
                "study estimates", "report estimates", "new analysis", "analysis finds",
                "analysis shows", "analysis estimates", "unodc report*", "un report*",
                "unodc study", "unodc analysis", "unodc guidance", "iom report*",
                "research brief*", "policy brief*", "issue brief*", "issue paper*",
                "working paper*", "discussion paper*", "background paper*", "research paper*",
                "white paper*", "occasional paper*", "handbook*", "toolkit*", "tool kit*",
                "training manual*", "manual on", "manual for", "a manual", "the manual",
                "new manual", "practical guide*", "a guide", "new guide", "the guide",
                "guide for", "guide on", "guide to", "guidelines", "guidance note*",
                "new guidance", "practical guidance", "guidance for", "survey", "surveys",
                "compendium", "factsheet*", "fact sheet*", "model law*",
                "model legislative provisions", "manual and guideline",
                "evaluation and lessons learned",
            ],
            "fr": [
                "publication*", "publie", "publiee", "nouveau rapport", "un rapport",
                "le rapport", "rapport sur", "rapport mondial", "rapport annuel",
                "dernier rapport", "etude mondiale", "une etude", "l'etude", "nouvelle etude",
                "etude sur", "manuel de", "manuel sur", "un manuel", "le manuel",
                "guide pratique", "un guide", "le guide", "guide sur", "boite a outils",
                "note d'orientation", "note d'information",
            ],
            "es": [
                "publicacion*", "informe*", "estudio mundial", "un estudio", "el estudio",
                "nuevo estudio", "estudio sobre", "manual de", "manual sobre", "un manual",
                "el manual", "nuevo manual", "guia practica", "una guia", "la guia",
                "guia para", "guia sobre", "caja de herramientas", "nota informativa",
            ],
            "ru": ["доклад*", "исследовани*", "пособи*", "публикаци*",
                   "практическ* руководств*"],
        },
    },
    # Laws and legal instruments: bills, protocols and conventions (their ratification,
    # accession, implementation), legal reform, criminal codes, legislative assistance.
    "legislation": {
        "body_matches": 2,
        "fields": SUBJECT_FIELDS,
        "any": {
            "en": [
                "legislation", "legislative", "legislature*", "lawmakers", "new law*",
                "first law", "law against", "laws against", "law on", "laws on",
                "national law*", "domestic law*", "smuggling law*", "trafficking law*",
                "immigration law*", "migration law*", "asylum law*", "anti smuggling law*",
                "anti trafficking law*", "adopted a law", "adopts a law", "adopted the law",
                "passed a law", "passes a law", "signed into law", "draft law*", "draft bill*",
                "bill on", "new bill", "penal code*", "criminal code*", "ratif*", "accession",
                "accede* to", "legal reform*", "law reform*", "criminaliz*",
                "criminalis*", "decriminaliz*", "decriminalis*", "amendment*", "enact*", "promulgat*",
                "treaty", "treaties", "decree*", "model law*",
            ],
            "fr": [
                "legislation*", "legislati*", "loi sur", "loi contre", "loi relative", "loi de",
                "nouvelle loi", "projet de loi", "proposition de loi", "premiere loi",
                "adopte une loi", "promulg*", "code penal", "ratif*", "adhesion", "reforme juridique",
                "incrimin*", "criminalis*", "decret*",
            ],
            "es": [
                "legislaci*", "legislativ*", "ley contra", "ley sobre", "ley de", "nueva ley",
                "reforma a la ley", "reforma de la ley", "ley especial", "ley integral",
                "ley general", "ley marco", "promulg*",
                "proyecto de ley", "ley organica", "primera ley", "reforma legal",
                "codigo penal", "ratific*", "adhesion", "tipific*", "penaliz*", "decreto*",
            ],
            "ru": ["закон", "закона", "законе", "законы", "законопроект*", "законодательств*",
                   "ратифик*", "уголовн* кодекс*"],
        },
    },
    # Law enforcement action: arrests, operations, raids, investigations, prosecutions,
    # convictions, sentences, seizures, networks dismantled, joint action days.
    "enforcement": {
        "body_matches": 2,
        "fields": SUBJECT_FIELDS,
        "any": {
            "en": [
                "arrest*", "suspects", "suspected smuggler*", "suspected traffickers",
                "suspected members", "seized", "seizure*", "dismantl*", "convicted",
                "conviction*", "sentenced", "jailed", "prison sentence*", "prosecutions",
                "charged with", "indicted", "indictment*", "extradit*", "raided", "police raid*",
                "raids on", "raids against", "dawn raid*", "house search*", "police operation*",
                "joint operation*", "coordinated operation*", "law enforcement operation*",
                "international operation*", "undercover operation*", "sting operation*",
                "operation against", "operation targeting", "operation involving",
                "day operation*", "action day*", "taken down", "takedown", "crackdown",
                "clampdown", "busted", "joint investigation*", "investigation into",
                "criminal investigation*", "under investigation", "opened an investigation",
                "on trial", "stand trial", "stood trial", "caught with", "into custody",
                "in custody", "haul", "hauls",
            ],
            "fr": [
                "arrestation*", "interpellation*", "ont ete interpelles", "demantel*",
                "condamne a", "condamnes a", "condamnee a", "condamnees a", "enquete judiciaire", "enquete penale", "enquetes conjointes",
                "equipe commune d'enquete", "ouvert une enquete", "perquisition*", "saisie*",
                "saisis", "coup de filet", "operation de police", "operation policiere",
                "operation conjointe", "journee* d'action", "garde a vue", "mis en examen",
                "ecroue*", "inculpe*", "extrad*", "ont ete arrete*", "a ete arrete*",
            ],
            "es": [
                "detenid*", "detien*", "detuv*", "arrest*", "captur*", "desarticul*", "desmantel*", "condenad*",
                "condenan a", "condeno a", "sentenci*", "investigacion penal", "investigacion criminal",
                "investigaciones conjuntas", "equipo* conjunto* de investigacion", "operativo*",
                "operacion policial", "operacion conjunta", "operacion contra",
                "allanamiento*", "redada*", "incaut*", "decomis*", "imputad*",
                "prision preventiva", "extradi*",
            ],
            "ru": ["арест*", "задержан*", "изъят*", "ликвидир*", "обезвреж*", "осужден*",
                   "приговор*", "уголовн* дел*", "обыск*", "спецоперац*"],
        },
        "none": {"en": ["cardiac arrest", "long haul"]},
    },
}
