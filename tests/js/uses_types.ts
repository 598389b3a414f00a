// Compiled (not run) by tests/test_view_types.py: the client's types as a user writes them.
import { ViewClient, RPCError } from "../../controller/view/client";
import type { Camera, ControllerStatus, PlanResult, SegmentPage } from "../../controller/view/client";

export async function tour(): Promise<string[]> {
  const view = new ViewClient("http://127.0.0.1:9990", { token: "t" });
  const cameras: Camera[] = await view.cameras({ labelSelector: "zone=garage" });
  const status: ControllerStatus = await view.controller();
  const plan: PlanResult = await view.plan();
  const page: SegmentPage = await view.segments("front-door", { limit: 10 });
  const seen: string[] = [cameras[0].metadata.name, String(status.passes), String(plan.converged)];
  seen.push(...page.items.map((s) => s.url));
  for await (const event of view.subscribe({ kinds: ["Camera"] })) {
    seen.push(`${event.kind} ${event.name}`);
    break;
  }
  try {
    await view.call("nope");
  } catch (error) {
    if (error instanceof RPCError) seen.push(String(error.code));
  }
  return seen;
}
