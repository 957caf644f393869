// In-process notifications between the parts of a running server: the metrics,
// the Prometheus file_sd writer and the scheduler listen here instead of being
// wired into the discovery service and the tool dispatcher. A listener that
// throws is logged and never breaks the run or the call that emitted.
import type { RunReport } from "./discovery-service.js";
import type { Logger } from "../log.js";

export interface ToolCallEvent {
  tool: string;
  /** The audit outcome: ok, tool_error, invalid_arguments, unknown_tool, exception, ... */
  outcome: string;
  durationMs: number;
}

interface EventMap {
  /** A discovery run is written (whatever its status); not emitted when the run itself threw. */
  run_finished: RunReport;
  /** A tool call has its audit row. */
  tool_call: ToolCallEvent;
}

export class AppEvents {
  private listeners: { [K in keyof EventMap]: Set<(e: EventMap[K]) => void> } = { run_finished: new Set(), tool_call: new Set() };

  constructor(private log?: Logger) {}

  /** Returns the function that removes the listener. */
  on<K extends keyof EventMap>(name: K, fn: (e: EventMap[K]) => void): () => void {
    this.listeners[name].add(fn);
    return () => this.listeners[name].delete(fn);
  }

  emit<K extends keyof EventMap>(name: K, event: EventMap[K]): void {
    for (const fn of this.listeners[name]) {
      try {
        fn(event);
      } catch (err) {
        this.log?.warn("an event listener failed", { event: name, error: err });
      }
    }
  }
}
