import { AgentRuntimeError } from "@cadre/agent-runtime-contract";
import type { Attributes, Span } from "@opentelemetry/api";

type OpenTelemetry = typeof import("@opentelemetry/api");

/** @opentelemetry/api when the application has it, loaded once; nothing without it. */
let api: Promise<OpenTelemetry | undefined> | undefined;

function openTelemetry(): Promise<OpenTelemetry | undefined> {
  api ??= import("@opentelemetry/api").then(
    (module) => module,
    () => undefined,
  );
  return api;
}

/** What a span of ours can be told while its call runs; nothing happens without OpenTelemetry. */
export interface CallSpan {
  /** False without OpenTelemetry: nothing is recorded, so nothing need be worked out for it. */
  readonly recording: boolean;
  set(attributes: Attributes): void;
}

const untraced: CallSpan = { recording: false, set: () => {} };

/** The tracer's name: the package that writes the spans. */
export const tracerName = "@cadre/agent-runtime";

/**
 * Runs `call` inside a span named `name` (a child of the caller's active span), when the
 * application has @opentelemetry/api; as it is otherwise. A failure sets the span's status to
 * ERROR with the error's stable code only (a message may name paths; no span ever holds argv
 * beyond argv[0], nor env).
 */
export async function traced<T>(
  name: string,
  attributes: Attributes,
  call: (span: CallSpan) => Promise<T>,
): Promise<T> {
  const otel = await openTelemetry();
  if (!otel) return call(untraced);
  const tracer = otel.trace.getTracer(tracerName);
  return tracer.startActiveSpan(name, { attributes }, async (span: Span) => {
    try {
      const result = await call({
        recording: span.isRecording(),
        set: (more) => span.setAttributes(more),
      });
      span.setStatus({ code: otel.SpanStatusCode.OK });
      return result;
    } catch (error) {
      const code = AgentRuntimeError.isInstance(error) ? error.code : "UNEXPECTED";
      span.setAttribute("cadre.error_code", code);
      span.setStatus({ code: otel.SpanStatusCode.ERROR, message: code });
      throw error;
    } finally {
      span.end();
    }
  });
}
