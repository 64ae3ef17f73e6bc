import asyncio, sys
from bench.throughput import measure_qorgau
from tests.botapi import BotApi

async def main(people, db):
    api = BotApi(); await api.start()
    try:
        rows = await measure_qorgau(api, db, "polling", people, 3 * 10**6)
        for r in rows: print(r[2])
    finally:
        await api.stop()
asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
