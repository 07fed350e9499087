import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useStubProviders } from "./helpers.js";

const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(tracerProvider);
});
afterAll(async () => {
  await tracerProvider.shutdown();
  trace.disable();
  context.disable();
});

const named = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);
const only = (name: string): ReadableSpan => {
  const spans = named(name);
  expect(spans, name).toHaveLength(1);
  return spans[0] as ReadableSpan;
};

describe("traces through the real OpenTelemetry SDK", () => {
  const stub = useStubProviders();

  it("give the lifecycle's calls spans under the caller's own, with their attributes and never argv's arguments or env", async () => {
    exporter.reset();
    const provider = await stub();
    const secret = "s3cret-value-for-tracing";
    const caller = trace.getTracer("cadre-core");
    const parent = await caller.startActiveSpan("agent turn", async (span) => {
      const id = await provider.startSession({ env: { TOKEN: secret } });
      const result = await provider.exec(id, ["sh", "-c", `echo out; echo ${secret} >/dev/null`], {
        stdin: "abc",
      });
      expect(result.exitCode).toBe(0);
      await provider.files.write(id, "/tmp/f", "data");
      await provider.files.read(id, "/tmp/f");
      await provider.destroySession(id);
      span.end();
      return { spanId: span.spanContext().spanId, traceId: span.spanContext().traceId, id };
    });

    const start = only("cadre.session.start");
    const exec = only("cadre.exec");
    const write = only("cadre.files.write");
    const read = only("cadre.files.read");
    const destroy = only("cadre.session.destroy");
    for (const span of [start, exec, write, read, destroy]) {
      expect(span.spanContext().traceId, span.name).toBe(parent.traceId);
      expect(span.parentSpanContext?.spanId, `${span.name} is a child of the caller's span`).toBe(
        parent.spanId,
      );
      expect(span.attributes["cadre.provider"]).toBe("stub");
      expect(span.status.code).toBe(SpanStatusCode.OK);
    }
    expect(start.attributes).toMatchObject({
      "cadre.session_id": parent.id,
      "cadre.isolation": "none",
    });
    expect(exec.attributes).toMatchObject({
      "cadre.session_id": parent.id,
      "cadre.command": "sh",
      "cadre.isolation": "none",
      "cadre.end_cause": "exited",
      "cadre.exit_code": 0,
      "cadre.bytes_in": 3,
      "cadre.bytes_out": 4,
    });
    expect(write.attributes["cadre.bytes_in"]).toBe(4);
    expect(read.attributes["cadre.bytes_out"]).toBe(4);
    expect(destroy.attributes["cadre.end_cause"]).toBe("destroyed");
    const everything = JSON.stringify(
      exporter.getFinishedSpans().map((s) => [s.name, s.attributes, s.events]),
    );
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain("echo");
  });

  it("mark a failed call with its error code, and an aborted exec with its cause", async () => {
    exporter.reset();
    const provider = await stub();
    await expect(provider.exec("cadre-0000000000000000", ["true"])).rejects.toMatchObject({
      code: "SESSION_NOT_FOUND",
    });
    const failed = only("cadre.exec");
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes["cadre.error_code"]).toBe("SESSION_NOT_FOUND");

    exporter.reset();
    const id = await provider.startSession({});
    const controller = new AbortController();
    const running = provider.exec(id, ["sleep", "600"], { signal: controller.signal });
    setImmediate(() => controller.abort(new Error("stop")));
    await expect(running).rejects.toThrow("stop");
    expect(only("cadre.exec").attributes["cadre.end_cause"]).toBe("aborted");
    await provider.destroySession(id);
  });
});
