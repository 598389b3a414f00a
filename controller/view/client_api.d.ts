// --- The client's own API (client.js), written by hand ------------------------------------

export type ViewEvent = Event;
export type EventKind = ViewEvent["kind"];
export type ListFilters = Omit<ListParams, "continue">;
export type SegmentFilters = Omit<SegmentsParams, "name">;
export type SubscribeFilters = SubscribeParams;

export interface ClientOptions {
  token?: string | null;
  fetch?: typeof fetch;
  WebSocket?: any;
}

export interface Subscription extends AsyncIterableIterator<ViewEvent> {
  close(): void;
}

export declare class RPCError extends Error {
  code: number;
  data?: unknown;
  constructor(code: number, message: string, data?: unknown);
}

export declare class ViewClient {
  constructor(url?: string, options?: ClientOptions);
  url: string;
  token: string | null;
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  batch(calls: [string, Record<string, unknown>?][]): Promise<(unknown | RPCError)[]>;
  cameras(filters?: ListFilters): Promise<Camera[]>;
  streams(filters?: ListFilters): Promise<Stream[]>;
  recordings(filters?: ListFilters): Promise<Recording[]>;
  camera(name: string, namespace?: string): Promise<Camera>;
  stream(name: string, namespace?: string): Promise<Stream>;
  recording(name: string, namespace?: string): Promise<Recording>;
  segments(name: string, filters?: SegmentFilters): Promise<SegmentPage>;
  devices(): Promise<DeviceItem[]>;
  paths(owned?: boolean | null): Promise<PathItem[]>;
  plan(): Promise<PlanResult>;
  controller(): Promise<ControllerStatus>;
  events(since?: number, limit?: number): Promise<EventList>;
  discover(): Promise<Record<string, any>>;
  subscribe(filters?: SubscribeFilters, onOpen?: (subscription: string) => void): Subscription;
}
