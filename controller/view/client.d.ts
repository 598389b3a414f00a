// Types of client.js, the camctl view's JavaScript client (served at /client.d.ts).

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message?: string;
  lastTransitionTime: string;
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface Resource<Spec, Status> {
  apiVersion: "camctl.dev/v1alpha1";
  kind: "Camera" | "Stream" | "Recording";
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}

export interface Device {
  node: string;
  serial?: string;
  vendorId?: string;
  productId?: string;
  usbPath?: string;
  product?: string;
  driver?: string;
  byId?: string;
  byPath?: string;
  formats: string[];
  claimedBy?: string | null;
}

export interface CameraSpec {
  node?: string;
  match: { serial?: string; vendorId?: string; productId?: string; usbPath?: string; device?: string };
}
export interface CameraStatus {
  observedGeneration?: number;
  conditions: Condition[];
  device?: Device;
}
export interface StreamSpec {
  camera: string;
  path?: string;
  mode: "always" | "onDemand";
  adopt: boolean;
  deviceLink?: "byId" | "byPath" | "node";
  video: {
    input: string; width: number; height: number; fps: number; codec: string;
    encoder: string; bitrate: string; keyframeInterval?: number;
  };
}
export interface StreamStatus {
  observedGeneration?: number;
  conditions: Condition[];
  path?: string;
  urls?: { rtsp: string; hls: string; webrtc: string };
  device?: string;
  deviceLink?: "byId" | "byPath" | "node";
  readers?: number;
  bytesReceived?: number;
}
export interface RecordingSpec {
  stream: string;
  enabled: boolean;
  format: "fmp4" | "mpegts";
  segmentDuration: string;
  partDuration: string;
  retention: string;
  root?: string;
}
export interface RecordingStatus {
  observedGeneration?: number;
  conditions: Condition[];
  path?: string;
  directory?: string;
  segments?: { count: number; bytes?: number; oldest?: string; newest?: string };
  retentionHorizon?: string;
  disk?: { freeBytes: number; totalBytes: number };
}

export type Camera = Resource<CameraSpec, CameraStatus>;
export type Stream = Resource<StreamSpec, StreamStatus>;
export type Recording = Resource<RecordingSpec, RecordingStatus>;

/** One recorded segment; `url` is MediaMTX's playback server (fMP4). */
export interface Segment {
  start: string;
  duration: number;
  /** null when camctl cannot read the files and shows MediaMTX's own listing */
  size: number | null;
  file: string | null;
  url: string;
}

export interface SegmentPage {
  items: Segment[];
  total: number;
  limit: number;
  offset: number;
  directory: string | null;
}

export interface SegmentFilters {
  namespace?: string;
  /** RFC 3339: only segments that end after this. */
  since?: string;
  /** RFC 3339: only segments that start before this. */
  until?: string;
  /** 1–1000, default 100. */
  limit?: number;
  /** Counted from the newest. */
  offset?: number;
}

export interface Path {
  name: string;
  owned: boolean;
  stream: string | null;
  source: string | null;
  record: boolean | null;
  ready: boolean | null;
  readers: number | null;
  bytesReceived: number | null;
  config: Record<string, unknown> | null;
}

export interface PlanResult {
  converged: boolean;
  actions: { op: "add" | "patch" | "delete"; path: string; stream: string | null;
             diff: Record<string, { from: unknown; to: unknown }> }[];
  notes: string[];
  mediamtxReachable: boolean;
  version: number;
  basedOn: string | null;
}

export interface ControllerStatus {
  node: string | null;
  ready: boolean;
  started: string;
  passes: number;
  lastPass?: string | null;
  lastSuccess?: string | null;
  lastReasons: string[];
  mediamtxReachable?: boolean | null;
  mediamtxVersion?: string | null;
  errors: string[];
  notes: string[];
  resources: Record<string, number>;
  notReady: number;
  version: number;
  connections: number;
}

export type EventKind = "Camera" | "Stream" | "Recording" | "Device" | "Controller";

export interface ViewEvent {
  seq: number;
  time: string;
  type: "ADDED" | "MODIFIED" | "DELETED";
  kind: EventKind;
  namespace: string | null;
  name: string;
  object: Record<string, any> | null;
}

export interface ListFilters {
  namespace?: string;
  labelSelector?: string;
  node?: string;
  limit?: number;
}

export interface SubscribeFilters {
  kinds?: EventKind[];
  namespace?: string;
  labelSelector?: string;
}

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
  devices(): Promise<Device[]>;
  paths(owned?: boolean | null): Promise<Path[]>;
  plan(): Promise<PlanResult>;
  controller(): Promise<ControllerStatus>;
  events(since?: number, limit?: number): Promise<{ events: ViewEvent[]; latest: number; oldest: number }>;
  discover(): Promise<Record<string, any>>;
  subscribe(filters?: SubscribeFilters, onOpen?: (subscription: string) => void): Subscription;
}
