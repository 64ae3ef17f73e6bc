"""Know your rights: short pages, each with its source (SPEC: keep sources in code)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import N_


@dataclass(frozen=True)
class Page:
    key: str
    title: str
    body: str
    source: str  # not translated: names of laws and sites


PAGES = (
    Page(
        "violence",
        N_("Violence at home"),
        N_(
            "Violence at home is a crime, not a family matter.\n\n"
            "• Since 2024, beating and causing light harm to health are crimes again under "
            "the Criminal Code, also inside a family.\n"
            "• The police can issue a protective order: the abuser must not come near you, "
            "call you or look for you.\n"
            "• Call 102 or 112 when you are in danger. Call 111 for advice and support.\n"
            "• Keep evidence if it is safe: photos of injuries, messages, medical records."
        ),
        "Law of the Republic of Kazakhstan of 15 April 2024 No. 72-VIII (adilet.zan.kz); "
        'Law "On the prevention of domestic violence" of 4 December 2009 No. 214-IV',
    ),
    Page(
        "bullying",
        N_("Bullying and cyberbullying"),
        N_(
            "Bullying a child, at school or online, is against the law.\n\n"
            "• Since 2024, bullying and cyberbullying of children lead to administrative "
            "liability; for a child under 16 who bullies, the parents answer.\n"
            "• Tell an adult you trust: a parent, a teacher, the school psychologist.\n"
            "• Save screenshots of messages and posts.\n"
            "• Call 111: it takes reports of bullying, free, day and night."
        ),
        "Law of the Republic of Kazakhstan of 15 April 2024 No. 72-VIII amending the Code "
        "of Administrative Offences (adilet.zan.kz); 111 takes bullying reports since October "
        "2023 (vlast.kz, turantimes.kz)",
    ),
    Page(
        "discrimination",
        N_("Discrimination"),
        N_(
            "No one may be discriminated against because of origin, social or property "
            "status, sex, race, nationality, language, religion, beliefs, place of residence "
            "or any other circumstance.\n\n"
            "• At work, the Labour Code forbids discrimination in hiring, pay and dismissal.\n"
            "• Write down what happened, when, and who saw it.\n"
            "• You can complain to the employer, the labour inspection, the prosecutor's "
            "office or the court. A lawyer here can help you."
        ),
        "Constitution of the Republic of Kazakhstan, Article 14; Labour Code of the Republic "
        "of Kazakhstan, Article 6 (adilet.zan.kz)",
    ),
    Page(
        "lines",
        N_("What 111 and 112 do"),
        N_(
            "112 is the single emergency number: police, ambulance and fire service. Free, "
            "day and night.\n\n"
            "111 is the state contact centre for the rights of families, women and children. "
            "Free, day and night. Since October 2023 it also takes calls from victims of "
            "domestic violence and bullying."
        ),
        'egov.kz, "Emergency number 112"; vlast.kz and turantimes.kz on the 111 contact '
        "centre (October 2023)",
    ),
)
