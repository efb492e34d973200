"""The batcher of `scalemath serve`: engine calls on one worker thread, fed from an asyncio queue
with the requests that arrived while the engine was busy, grouped by sampling params and `n`."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

from scalemath.sampling.engine import Completion, Engine, GenerationCancelled, SamplingParams, cancel_scope
from scalemath.serve.config import ServerConfig, ServerStats


class Batcher:
    """Runs engine.generate on one worker thread; groups queued requests with equal params (the
    seed aside, when the engine takes per-prompt seeds), n and start_index (queue items: (prompts,
    params, (n, start), future))."""

    def __init__(self, engine: Engine, config: ServerConfig, stats: ServerStats):
        self.engine, self.config, self.stats = engine, config, stats
        self.per_prompt_seeds = bool(getattr(engine, "per_prompt_seeds", False))
        self.queue: asyncio.Queue = asyncio.Queue()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="engine")
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.pool.shutdown(wait=True)

    async def submit(
        self, prompts: list[str], params: SamplingParams, n: int, start: int = 0
    ) -> list[list[Completion]]:
        fut = asyncio.get_running_loop().create_future()
        await self.queue.put((prompts, params, (n, start), fut))
        return await fut

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            while not self.queue.empty() and len(items) < 4 * self.config.max_batch_prompts:
                items.append(self.queue.get_nowait())
            groups: dict[tuple, list] = {}
            for it in items:
                if it[3].done():  # the client went away while queued: no engine work for it
                    continue
                key = dataclasses.replace(it[1], seed=0) if self.per_prompt_seeds else it[1]
                groups.setdefault((key, it[2]), []).append(it)
            for (params, run), group in groups.items():
                await self._run_group(loop, params, run, group)

    async def _run_group(self, loop, params: SamplingParams, run: tuple[int, int], group: list) -> None:
        # Chunk whole requests into engine calls of at most max_batch_prompts prompts.
        chunk: list = []
        size = 0
        for it in group + [None]:
            if it is not None and (not chunk or size + len(it[0]) <= self.config.max_batch_prompts):
                chunk.append(it)
                size += len(it[0])
                continue
            if chunk:
                await self._call(loop, params, run, chunk)
            chunk, size = ([it], len(it[0])) if it is not None else ([], 0)

    async def _call(self, loop, params: SamplingParams, run: tuple[int, int], chunk: list) -> None:
        n, start = run
        chunk = [it for it in chunk if not it[3].done()]  # skip clients that left while queued
        if not chunk:
            return
        prompts = [p for it in chunk for p in it[0]]
        kw = {"base_seeds": [it[1].seed for it in chunk for _ in it[0]]} if self.per_prompt_seeds else {}
        futs = [it[3] for it in chunk]

        def abandoned() -> bool:  # read from the engine thread: every waiting client is gone
            return all(f.done() for f in futs)

        def work() -> list[list[Completion]]:
            with cancel_scope(abandoned):
                outs = []
                for cs in self.engine.generate(prompts, params, n=n, start_index=start, **kw):
                    outs.append(cs)
                    if abandoned():
                        raise GenerationCancelled()
                return outs

        t0 = time.perf_counter()
        try:
            outs = await loop.run_in_executor(self.pool, work)
        except GenerationCancelled:  # every client of the call left (each handler counted itself)
            for f in futs:
                if not f.done():  # a client came back between the check and here: it gets an error
                    f.set_exception(GenerationCancelled("the engine call was cancelled"))
            return
        except Exception as e:
            if len(chunk) > 1:
                for it in chunk:
                    await self._call(loop, params, run, [it])
                return
            if not chunk[0][3].done():
                chunk[0][3].set_exception(e)
            return
        finally:
            self.stats.engine_calls += 1
            self.stats.engine_seconds += time.perf_counter() - t0
            self.stats.prompts_per_call.append(len(prompts))
        pos = 0
        for prompts_i, _, _, fut in chunk:
            if not fut.done():
                fut.set_result(outs[pos : pos + len(prompts_i)])
            pos += len(prompts_i)
