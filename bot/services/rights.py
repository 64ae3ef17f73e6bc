"""Know your rights: short pages, each with its source (safety rule 2)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import N_


@dataclass(frozen=True)
class Page:
    key: str
    title: str
    body: str
    source: str  # the law and article or official page, translated like the rest


PAGES = (
    Page(
        "violence",
        N_("Violence at home"),
        N_(
            "Violence at home is a crime, not a family matter.\n\n"
            "• Since 2024, beating (Article 109) and intentional light harm to health "
            "(Article 108-1) are crimes again under the Criminal Code, also inside a family.\n"
            "• Violence is not only beating: threats, humiliation, taking your money and "
            "sexual violence count too.\n"
            "• The police can issue a protective order: the abuser must not come near you, "
            "call you or look for you.\n"
            "• Where to go: 102 or 112 when you are in danger; 111 for advice and support; "
            'a crisis centre (see "Help near me"). Our lawyer can tell you what fits your '
            "case.\n"
            "• Keep evidence if it is safe: photos of injuries, messages, medical records."
        ),
        N_(
            "Law of the Republic of Kazakhstan of 15 April 2024 No. 72-VIII; Criminal Code, "
            'Articles 108-1 and 109; Law "On the prevention of domestic violence" of '
            "4 December 2009 No. 214-IV (adilet.zan.kz)"
        ),
    ),
    Page(
        "bullying",
        N_("Bullying and cyberbullying"),
        N_(
            "Bullying a child, at school or online, is against the law.\n\n"
            "• The Law on the rights of the child protects children from bullying and "
            "cyberbullying. Tell the school: a teacher, the school psychologist or the "
            "head. The school must act.\n"
            "• Since 2024, bullying and cyberbullying of children lead to administrative "
            "liability; for a child under 16 who bullies, the parents answer.\n"
            "• Online: save screenshots. A complaint can go through eotinish.kz to the "
            "expert group on cyberbullying of children; it can order the posts removed.\n"
            "• Call 111: it takes reports of bullying, free, day and night."
        ),
        N_(
            'Law of the Republic of Kazakhstan "On the rights of the child in the Republic '
            'of Kazakhstan" of 8 August 2002 No. 345-II; Law of 15 April 2024 No. 72-VIII '
            "(Code of Administrative Offences); Order of the Minister of Culture and "
            "Information of 26 November 2024 No. 562-NK (adilet.zan.kz)"
        ),
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
        N_(
            "Constitution of the Republic of Kazakhstan, Article 14; Labour Code of the "
            "Republic of Kazakhstan, Article 6 (adilet.zan.kz)"
        ),
    ),
    Page(
        "children",
        N_("Children's rights"),
        N_(
            "You have rights, and adults must protect them.\n\n"
            "• No one may beat you, humiliate you or hurt you: not at home, not at school, "
            "not online.\n"
            "• You have the right to be heard and to ask for help.\n"
            "• If you feel unsafe, tell an adult you trust, or call 111: free, day and "
            "night. In danger, call 112.\n"
            "• You can write to us here too. You do not have to give your name."
        ),
        N_(
            'Law of the Republic of Kazakhstan "On the rights of the child in the Republic '
            'of Kazakhstan" of 8 August 2002 No. 345-II (adilet.zan.kz); the 111 contact '
            "centre (vlast.kz, turantimes.kz)"
        ),
    ),
    Page(
        "lines",
        N_("What 111 and 112 do"),
        N_(
            "112 is the single emergency number: police, ambulance and fire service. Free, "
            "day and night.\n\n"
            "111 is the state contact centre for the rights of families, women and children. "
            "Free, day and night. Since October 2023 it also takes calls from victims of "
            "domestic violence and bullying. It does not send police or an ambulance: in "
            "danger, call 112."
        ),
        N_(
            'egov.kz, "Emergency number 112"; vlast.kz and turantimes.kz on the 111 contact '
            "centre (October 2023)"
        ),
    ),
)
