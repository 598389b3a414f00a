// Types of client.js, the camctl view's JavaScript client (served at /client.d.ts).
// Made by `python -m controller.view.typescript` from the OpenRPC document: do not edit;
// the client's own API is in client_api.d.ts.

export interface AnyParams {
}

export interface AuthenticateParams {
  auth_token?: string | null;
  token?: string | null;
  auth_type?: "jwt" | "api_key" | "auto";
}

/** Who the connection is; on /ws a refused token answers only `authenticated` false and `error`, as the old service did. */
export interface Authenticated {
  authenticated: boolean;
  role?: "viewer" | "admin" | null;
  permissions?: string[] | null;
  /** RFC 3339: when the session ends (/ws) */
  expires_at?: string | null;
  session_id?: string | null;
  error?: string | null;
}

export interface Camera {
  apiVersion: "camctl.dev/v1alpha1";
  kind: "Camera";
  metadata: ObjectMeta;
  spec: CameraSpec;
  status?: CameraStatus | null;
}

export interface CameraCapabilities {
  device: string;
  formats: string[];
  resolutions: string[];
  fps_options: number[];
  validation_status: "none" | "disconnected" | "confirmed";
}

/** Where a network camera's user name and password are: never in the document itself. */
export interface CameraCredentials {
  /** A YAML file {username, password}, under one of camctl's --credentials-root folders (a relative path is taken from the first) */
  file?: string | null;
  /** Kubernetes: a Secret with the keys username and password (camctl run --kubernetes --read-secrets) */
  secretRef?: SecretRef | null;
}

export interface CameraList {
  items: Camera[];
  /** Items matching the filters, on every page */
  total: number;
  /** Pass as `continue` for the next page; null at the end */
  continue?: string | null;
  /** Snapshot version the page was read from */
  version: number;
}

export interface CameraListResult {
  cameras: CameraObject[];
  total: number;
  connected: number;
}

/** Every field given must match the udev device; prefer stable facts over `device`. */
export interface CameraMatch {
  /** ID_SERIAL_SHORT */
  serial?: string | null;
  /** ID_VENDOR_ID */
  vendorId?: string | null;
  /** ID_MODEL_ID */
  productId?: string | null;
  /** ID_PATH */
  usbPath?: string | null;
  /** Last resort: /dev/videoN numbers move on replug */
  device?: string | null;
}

export interface CameraMetrics {
  bytes_sent: number;
  readers: number;
  uptime: number;
}

export interface CameraObject {
  device: string;
  status: "CONNECTED" | "DISCONNECTED";
  name: string;
  resolution: string;
  fps: number;
  streams: StreamUrlsOut;
  recording: boolean;
  /** While writing: Recording@since */
  recording_session: string | null;
  /** While writing: the newest segment */
  current_file: string | null;
  /** While writing: seconds since it began */
  elapsed_time: number | null;
}

export interface CameraSpec {
  /** Which machine's controller owns the camera */
  node?: string | null;
  /** A V4L2 camera: every field given must match the udev device */
  match?: CameraMatch | null;
  /** A network camera MediaMTX pulls: rtsp, rtsps, rtmp, rtmps, srt, http(s) */
  url?: string | null;
  /** The network camera's user name and password */
  credentials?: CameraCredentials | null;
  /** RTSP transport MediaMTX (or ffmpeg) pulls with */
  transport?: "automatic" | "tcp" | "udp" | "multicast";
}

export interface CameraStatus {
  observedGeneration?: number | null;
  conditions?: Condition[];
  device?: Device | null;
  /** While absent: the device it had, as long as its spec has not changed */
  lastDevice?: Device | null;
  /** A network camera: whether MediaMTX receives from it */
  source?: SourceStatus | null;
  /** Recent comings and goings of the device (flap damping) */
  flaps?: Flaps | null;
}

export interface CameraStatusResult {
  device: string;
  status: "CONNECTED" | "DISCONNECTED";
  name: string;
  resolution: string;
  fps: number;
  streams: StreamUrlsOut;
  recording: boolean;
  /** While writing: Recording@since */
  recording_session: string | null;
  /** While writing: the newest segment */
  current_file: string | null;
  /** While writing: seconds since it began */
  elapsed_time: number | null;
  metrics: CameraMetrics;
  capabilities: Capabilities;
}

export interface Capabilities {
  formats: string[];
  resolutions: string[];
}

export interface Change {
  from?: unknown;
  to?: unknown;
}

export interface ComponentStates {
  websocket_server: string;
  camera_monitor: string;
  mediamtx_controller: string;
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message?: string;
  lastTransitionTime: string;
}

export interface ControllerStatus {
  started: string;
  passes: number;
  lastPass: string | null;
  lastSuccess: string | null;
  /** The last pass reached MediaMTX and made every write it had to */
  lastPassSucceeded: boolean | null;
  lastReasons: string[];
  mediamtxReachable: boolean | null;
  mediamtxVersion: string | null;
  /** Documents that do not load, MediaMTX unreachable, failed writes, a damaged state directory: each until it is mended */
  errors: string[];
  /** What camctl keeps or holds back, and why */
  notes: string[];
  node: string | null;
  /** A pass has finished since the view started */
  ready: boolean;
  /** Declared resources by kind */
  resources: Record<string, number>;
  /** Resources whose Ready condition is not True */
  notReady: number;
  version: number;
  /** WebSocket connections to the view */
  connections: number;
}

/** The facts udev knows about one V4L2 capture node, and the modes it offers. */
export interface Device {
  /** Device node, e.g. /dev/video0 (moves on replug) */
  node: string;
  /** ID_SERIAL_SHORT */
  serial?: string | null;
  /** ID_VENDOR_ID */
  vendorId?: string | null;
  /** ID_MODEL_ID */
  productId?: string | null;
  /** ID_PATH */
  usbPath?: string | null;
  /** ID_V4L_PRODUCT or ID_MODEL */
  product?: string | null;
  /** ID_USB_DRIVER, e.g. uvcvideo */
  driver?: string | null;
  /** /dev/v4l/by-id/… link */
  byId?: string | null;
  /** /dev/v4l/by-path/… link */
  byPath?: string | null;
  /** Pixel formats (FourCC); by default those of modes, in order */
  formats?: string[];
  /** What the camera can capture: one entry per pixel format and frame size */
  modes?: Mode[];
  /** Why modes is empty: the node could not be opened or did not answer */
  modesError?: string | null;
}

export interface DeviceItem {
  /** Device node, e.g. /dev/video0 (moves on replug) */
  node: string;
  /** ID_SERIAL_SHORT */
  serial?: string | null;
  /** ID_VENDOR_ID */
  vendorId?: string | null;
  /** ID_MODEL_ID */
  productId?: string | null;
  /** ID_PATH */
  usbPath?: string | null;
  /** ID_V4L_PRODUCT or ID_MODEL */
  product?: string | null;
  /** ID_USB_DRIVER, e.g. uvcvideo */
  driver?: string | null;
  /** /dev/v4l/by-id/… link */
  byId?: string | null;
  /** /dev/v4l/by-path/… link */
  byPath?: string | null;
  /** Pixel formats (FourCC); by default those of modes, in order */
  formats?: string[];
  /** What the camera can capture: one entry per pixel format and frame size */
  modes?: Mode[];
  /** Why modes is empty: the node could not be opened or did not answer */
  modesError?: string | null;
  /** e.g. Camera/front-door */
  claimedBy?: string | null;
}

export interface DeviceList {
  items: DeviceItem[];
  /** Items matching the filters, on every page */
  total: number;
  /** Pass as `continue` for the next page; null at the end */
  continue?: string | null;
  /** Snapshot version the page was read from */
  version: number;
}

export interface DeviceParams {
  /** /dev/video0, a by-id link or the name */
  device: string;
}

export interface DiskSpace {
  freeBytes: number;
  totalBytes: number;
}

export interface Event {
  seq: number;
  time: string;
  type: "ADDED" | "MODIFIED" | "DELETED";
  kind: "Camera" | "Stream" | "Recording" | "Device" | "Controller";
  namespace?: string | null;
  name: string;
  /** The resource, device or controller status after the change */
  object?: Record<string, unknown> | null;
}

export interface EventList {
  events: Event[];
  /** Sequence number of the newest event (0: none yet) */
  latest: number;
  /** Oldest sequence number still kept */
  oldest: number;
}

/** Params of the `events.event` notification sent on a subscribed WebSocket. */
export interface EventNotification {
  subscription: string;
  event: Event;
}

export interface EventsListParams {
  /** Events after this sequence number */
  since?: number;
  limit?: number;
}

export interface FileList {
  files: FileObject[];
  total: number;
  limit: number;
  offset: number;
}

export interface FileObject {
  filename: string;
  file_size: number;
  modified_time: string;
  /** RFC 3339: the segment's start */
  created_time: string;
  /** Whole seconds (to the next segment, or so far) */
  duration: number;
  download_url: string;
}

export interface FileParams {
  filename: string;
}

export interface FilesParams {
  limit?: number;
  offset?: number;
}

/** When the Camera's device came or went lately, and whether camctl is ignoring it. */
export interface Flaps {
  /** Times the device came or went, oldest first */
  changes?: string[];
  /** Set while the device is ignored for flapping */
  dampedSince?: string | null;
}

export interface GetParams {
  name: string;
  namespace?: string;
}

export interface HealthSpec {
  /** How long a live Stream may receive no bytes (or have no publisher) before camctl restarts its publisher; 0s turns the watchdog off */
  stallAfter?: string;
}

export interface ListParams {
  /** Items per page */
  limit?: number;
  /** From the previous page's answer */
  continue?: string | null;
  namespace?: string | null;
  labelSelector?: string | null;
  /** Only resources whose Camera has this spec.node (Streams and Recordings through their Camera) */
  node?: string | null;
}

export interface Metrics {
  active_connections: number;
  total_requests: number;
  average_response_time: number | null;
  error_rate: number;
  memory_usage: number;
  cpu_usage: number;
}

/** One pixel format at one frame size, and the frame rates the camera offers for it. */
export interface Mode {
  /** Pixel format (FourCC): MJPG, YUYV, H264, NV12, … */
  format: string;
  width: number;
  height: number;
  /** Frame rates, highest first; empty when the driver does not list them */
  fps?: number[];
}

export interface NoParams {
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Set by Kubernetes only */
  generation?: number | null;
}

export interface PageParams {
  /** Items per page */
  limit?: number;
  /** From the previous page's answer */
  continue?: string | null;
}

/** Parameters by name; unknown names and loose types are refused (-32602). */
export interface Params {
}

export interface PathItem {
  name: string;
  /** camctl created it (it is in the inventory) */
  owned: boolean;
  /** The Stream an owned path serves */
  stream?: string | null;
  source?: string | null;
  record?: boolean | null;
  /** MediaMTX has a source publishing */
  ready?: boolean | null;
  readers?: number | null;
  bytesReceived?: number | null;
  /** Owned paths only: the fields camctl manages, as MediaMTX holds them */
  config?: Record<string, unknown> | null;
}

export interface PathList {
  items: PathItem[];
  /** Items matching the filters, on every page */
  total: number;
  /** Pass as `continue` for the next page; null at the end */
  continue?: string | null;
  /** Snapshot version the page was read from */
  version: number;
}

export interface PathListParams {
  /** Items per page */
  limit?: number;
  /** From the previous page's answer */
  continue?: string | null;
  /** Only paths camctl owns (true) or not (false) */
  owned?: boolean | null;
}

export interface PlanResult {
  converged: boolean;
  actions: PlannedAction[];
  /** Removals held back until the documents load cleanly and settle */
  withheld?: WithheldAction[];
  notes: string[];
  mediamtxReachable: boolean;
  version: number;
  /** When the pass whose snapshots it used ended */
  basedOn?: string | null;
}

export interface PlannedAction {
  /** restart: the watchdog recreates the path (delete, then add) */
  op: "add" | "patch" | "delete" | "restart";
  path: string;
  stream?: string | null;
  diff: Record<string, Change>;
}

export interface Recording {
  apiVersion: "camctl.dev/v1alpha1";
  kind: "Recording";
  metadata: ObjectMeta;
  spec: RecordingSpec;
  status?: RecordingStatus | null;
}

export interface RecordingList {
  items: Recording[];
  /** Items matching the filters, on every page */
  total: number;
  /** Pass as `continue` for the next page; null at the end */
  continue?: string | null;
  /** Snapshot version the page was read from */
  version: number;
}

export interface RecordingSpec {
  stream: string;
  /** false stops recording (record: false) and keeps the files */
  enabled?: boolean;
  format?: "fmp4" | "mpegts";
  segmentDuration?: string;
  partDuration?: string;
  /** recordDeleteAfter; 0s keeps all */
  retention?: string;
  /** Directory the segments go to, as <root>/<path>/<start time>.mp4|.ts; default: the controller's first --recordings-root. It must be under one of them. */
  root?: string | null;
}

export interface RecordingStatus {
  observedGeneration?: number | null;
  conditions?: Condition[];
  path?: string | null;
  /** Where the segments are */
  directory?: string | null;
  segments?: SegmentSummary | null;
  /** Segments that started before this are MediaMTX's to delete */
  retentionHorizon?: string | null;
  disk?: DiskSpace | null;
}

export interface SecretRef {
  /** A Secret in the Camera's namespace */
  name: string;
}

export interface SegmentItem {
  /** RFC 3339, UTC */
  start: string;
  /** Seconds, to the next segment's start (the newest: to its last write) */
  duration: number;
  /** Bytes; null when camctl cannot read the files */
  size: number | null;
  /** <path>/<name> under the Recording's root; null when camctl cannot read the files and lists what MediaMTX lists (/v3/recordings/get) */
  file: string | null;
  /** MediaMTX's playback server: this segment as fMP4 */
  url: string;
}

export interface SegmentPage {
  /** Newest first */
  items: SegmentItem[];
  /** Segments in the window, on every page */
  total: number;
  limit: number;
  offset: number;
  /** Where the segments are on this node */
  directory?: string | null;
}

export interface SegmentSummary {
  count?: number;
  bytes?: number | null;
  /** Start of the oldest segment */
  oldest?: string | null;
  /** Start of the newest segment */
  newest?: string | null;
}

export interface SegmentsParams {
  name: string;
  namespace?: string;
  /** Only segments that end after this */
  since?: string | null;
  /** Only segments that start before this */
  until?: string | null;
  /** Segments per page */
  limit?: number;
  /** Segments to skip, counted from the newest */
  offset?: number;
}

export interface ServerInfo {
  name: string;
  version: string;
  capabilities: string[];
  supported_formats: string[];
  max_cameras: number | null;
}

export interface ServiceStatus {
  status: "healthy" | "degraded" | "unhealthy";
  uptime: number;
  version: string;
  components: ComponentStates;
}

/** A network camera as MediaMTX sees it: is it receiving from the camera, since when. */
export interface SourceStatus {
  /** spec.url; credentials are never shown */
  url: string;
  /** The MediaMTX path that pulls it */
  path?: string | null;
  /** None: not known (onDemand) */
  connected?: boolean | null;
  /** MediaMTX's readyTime (RFC 3339) */
  since?: string | null;
}

export interface StorageInfo {
  total_space: number | null;
  used_space: number | null;
  available_space: number | null;
  usage_percentage: number | null;
  recordings_size: number;
  snapshots_size: number;
  low_space_warning: boolean;
}

export interface Stream {
  apiVersion: "camctl.dev/v1alpha1";
  kind: "Stream";
  metadata: ObjectMeta;
  spec: StreamSpec;
  status?: StreamStatus | null;
}

export interface StreamInfo {
  name: string;
  source: string;
  ready: boolean;
  readers: number;
  bytes_sent: number;
}

export interface StreamList {
  items: Stream[];
  /** Items matching the filters, on every page */
  total: number;
  /** Pass as `continue` for the next page; null at the end */
  continue?: string | null;
  /** Snapshot version the page was read from */
  version: number;
}

export interface StreamSpec {
  camera: string;
  /** MediaMTX path; default the name */
  path?: string | null;
  mode?: "always" | "onDemand";
  /** Take over a path camctl did not create */
  adopt?: boolean;
  /** Which name of the device ffmpeg opens (default: the setting) */
  deviceLink?: "byId" | "byPath" | "node" | null;
  /** How ffmpeg encodes. Without it a network camera is passed through as it sends, and a V4L2 camera is encoded in its best mode with the defaults */
  video?: VideoSpec | null;
  health?: HealthSpec;
}

export interface StreamStatus {
  observedGeneration?: number | null;
  conditions?: Condition[];
  path?: string | null;
  urls?: StreamUrls | null;
  /** The device name ffmpeg opens */
  device?: string | null;
  deviceLink?: "byId" | "byPath" | "node" | null;
  /** The node whose camctl owns the path: with `path`, the ownership a node that lost its state directory reads back */
  node?: string | null;
  /** The mode captured */
  video?: VideoChoice | null;
  readers?: number | null;
  bytesReceived?: number | null;
  /** Inbound bits per second since the sample before */
  bitrate?: number | null;
  /** When bytesReceived and bitrate were read from MediaMTX */
  sampleTime?: string | null;
  /** Since when MediaMTX has had a publisher on the path */
  readySince?: string | null;
  /** Times camctl restarted the publisher (recreated the path) */
  restarts?: number | null;
  lastRestartTime?: string | null;
  watchdog?: Watchdog | null;
}

export interface StreamUrls {
  rtsp: string;
  hls: string;
  webrtc: string;
}

export interface StreamUrlsOut {
  rtsp?: string | null;
  webrtc?: string | null;
  hls?: string | null;
}

export interface SubscribeParams {
  /** Default: all */
  kinds?: ("Camera" | "Stream" | "Recording" | "Device" | "Controller")[] | null;
  namespace?: string | null;
  labelSelector?: string | null;
}

export interface Subscribed {
  subscription: string;
}

export interface UnsubscribeParams {
  subscription: string;
}

/** The mode the Stream captures in, and who chose it. */
export interface VideoChoice {
  input: string;
  width: number;
  height: number;
  fps: number;
  /** spec: as declared; camera: the camera's best mode filled in what the spec left out; default: the camera's modes are unknown, camctl's defaults did */
  chosenBy: "spec" | "camera" | "default";
}

export interface VideoSpec {
  /** Pixel format read from the camera (ffmpeg -input_format); default: that of the camera's best mode */
  input?: "mjpeg" | "yuyv422" | "h264" | "nv12" | null;
  /** Default: the camera's best mode */
  width?: number | null;
  /** Default: the camera's best mode */
  height?: number | null;
  /** Default: the camera's best mode */
  fps?: number | null;
  /** h264 encodes; copy passes an H.264 camera's stream through */
  codec?: "h264" | "copy";
  encoder?: "libx264" | "h264_v4l2m2m";
  bitrate?: string;
  /** Frames between keyframes (default: 2 s) */
  keyframeInterval?: number | null;
}

/** What the watchdog remembers of a live Stream from one pass to the next. */
export interface Watchdog {
  /** Since when no bytes have come in (from the last pass that saw them grow, or from a (re)start of the watch); none while they flow */
  quietSince?: string | null;
  /** Restarts since the Stream was last healthy for an hour: the next one waits stallAfter x 2^(backoff-1) after the last, at most 10 minutes */
  backoff?: number;
}

export interface WithheldAction {
  /** restart: the watchdog recreates the path (delete, then add) */
  op: "add" | "patch" | "delete" | "restart";
  path: string;
  stream?: string | null;
  diff: Record<string, Change>;
  reason: "unclean" | "unsettled";
  message: string;
}

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
