"""ready answers in three languages (with the starter set), a case's risk level, open cases

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The starter set, loaded once with the table (coordinators change or remove them with
# /answer_edit and /answer_remove; a removed one does not come back). The sender puts
# "Helpline:" ("Көмек желісі:", "Линия помощи:") before each text.
STARTER = [
    {
        "key": "greeting",
        "kk": (
            "Сәлеметсіз бе. Бізге жазғаныңызға рахмет. Хабарламаңызды оқыдық. Өзіңізге "
            "ыңғайлы қарқынмен, өз сөзіңізбен жаза беріңіз: біз тыңдауға дайынбыз және "
            "қолымыздан келгенше көмектесеміз."
        ),
        "ru": (
            "Здравствуйте. Спасибо, что написали нам. Мы прочитали ваше сообщение. Пишите в "
            "своём темпе и своими словами: мы готовы выслушать и поможем, чем сможем."
        ),
        "en": (
            "Hello. Thank you for writing to us. We have read your message. Write at your own "
            "pace and in your own words: we are here to listen and will help as far as we can."
        ),
    },
    {
        "key": "safety_check",
        "kk": (
            "Жалғастырмас бұрын: қазір қауіпсіз жердесіз бе? Бұл чатты басқа біреу көруі "
            "мүмкін бе? Жазу қауіпті болса, кез келген уақытта тоқтап, «Шығу және чатты "
            "тазалау» түймесін басуға болады. Қазір қауіпте болсаңыз, 112 немесе 102 нөміріне "
            "қоңырау шалыңыз."
        ),
        "ru": (
            "Прежде чем продолжить: вы сейчас в безопасности? Может ли кто-то ещё увидеть эту "
            "переписку? Если писать небезопасно, можно остановиться в любой момент и нажать "
            "«Выйти и очистить чат». Если вы в опасности прямо сейчас, звоните 112 или 102."
        ),
        "en": (
            "Before we go on: are you safe right now? Can someone else see this chat? If it is "
            "not safe to write, you can stop at any time and press «Exit and clear chat». If "
            "you are in danger now, call 112 or 102."
        ),
    },
    {
        "key": "next_steps",
        "kk": (
            "Әрі қарай не болады: осында жазғаныңыздың бәрін оқимыз және осы чатта жауап "
            "береміз. Кейде жауап бірден келмейді: мүмкіндігінше тез жауап береміз. "
            "Өтінішіңізге кез келген уақытта қосымша жаза аласыз: осында жаза беріңіз. Қазір "
            "қауіпте болсаңыз, жауабымызды күтпей, 112-ге қоңырау шалыңыз."
        ),
        "ru": (
            "Что будет дальше: мы читаем всё, что вы пишете здесь, и отвечаем в этом чате. "
            "Иногда ответ приходит не сразу: мы отвечаем, как только можем. Дописать обращение "
            "можно в любой момент: просто напишите сюда. Если вы в опасности прямо сейчас, не "
            "ждите нашего ответа: звоните 112."
        ),
        "en": (
            "What happens next: we read everything you write here and answer in this chat. "
            "Sometimes an answer takes a while; we answer as soon as we can. You can add to "
            "your request at any time: just write here. If you are in danger now, do not wait "
            "for our answer: call 112."
        ),
    },
    {
        "key": "referral_111",
        "kk": (
            "Сондай-ақ 111 байланыс орталығына қоңырау шалуға болады: бұл Отбасы, әйелдер және "
            "балалар құқықтарын қорғау мәселелері жөніндегі бірыңғай байланыс орталығы. "
            "Қоңырау тегін, тәулік бойы хабарласуға болады. Онда кеңес беріп, қолдау көрсетіп, "
            "өңіріңізде қайда жүгінуге болатынын айтып бере алады. 111 полиция немесе жедел "
            "жәрдем шақырмайды: қазір қауіпте болсаңыз, 112 немесе 102 нөміріне қоңырау "
            "шалыңыз."
        ),
        "ru": (
            "Вы также можете позвонить в контакт-центр 111: это Единый контакт-центр по "
            "вопросам семьи, женщин и защиты прав детей. Звонок бесплатный, звонить можно "
            "круглосуточно. Там могут дать совет, поддержать и подсказать, куда обратиться в "
            "вашем регионе. 111 не вызывает полицию и скорую: если вы в опасности прямо "
            "сейчас, звоните 112 или 102."
        ),
        "en": (
            "You can also call 111, the state contact centre for family, women's and "
            "children's rights. The call is free, at any hour of the day or night. They can "
            "give advice and support and tell you where to turn in your region. 111 does not "
            "send the police or an ambulance: if you are in danger now, call 112 or 102."
        ),
    },
    {
        "key": "closing",
        "kk": (
            "Бізге сенім артқаныңызға рахмет. Бірдеңе өзгерсе немесе қайтадан көмек керек "
            "болса, бізге осында кез келген уақытта жазыңыз. Өзіңізді күтіңіз."
        ),
        "ru": (
            "Спасибо, что доверились нам. Если что-то изменится или снова понадобится помощь, "
            "напишите нам сюда в любое время. Берегите себя."
        ),
        "en": (
            "Thank you for trusting us. If anything changes or you need help again, write to "
            "us here at any time. Take care of yourself."
        ),
    },
]


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("risk", sa.String(length=12), nullable=True))
    op.create_index(
        "ix_cases_open_created_at",
        "cases",
        ["created_at"],
        unique=False,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    ready_answers = op.create_table(
        "ready_answers",
        sa.Column("key", sa.String(length=24), nullable=False),
        sa.Column("kk", sa.Text(), nullable=False),
        sa.Column("ru", sa.Text(), nullable=False),
        sa.Column("en", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_ready_answers")),
    )
    now = datetime.now(UTC)
    op.bulk_insert(ready_answers, [{**row, "updated_by": 0, "updated_at": now} for row in STARTER])


def downgrade() -> None:
    op.drop_table("ready_answers")
    op.drop_index("ix_cases_open_created_at", table_name="cases")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("risk")
