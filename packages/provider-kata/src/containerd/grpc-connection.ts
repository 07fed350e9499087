import { join } from "node:path";
import {
  type CallOptions,
  type ClientDuplexStream,
  type ClientReadableStream,
  credentials,
  Client as GrpcClient,
  Metadata,
  type MethodDefinition,
} from "@grpc/grpc-js";
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";
import { protoDirectory, protoFiles } from "./proto-files.js";

let cachedDefinition: PackageDefinition | undefined;

function packageDefinition(): PackageDefinition {
  if (!cachedDefinition) {
    const dir = protoDirectory();
    cachedDefinition = loadSync(
      protoFiles.map((f) => join(dir, f)),
      {
        keepCase: true,
        longs: Number,
        enums: String,
        bytes: Buffer,
        defaults: true,
        includeDirs: [dir],
      },
    );
  }
  return cachedDefinition;
}

export interface RequestContext {
  /** Resources created by this call are added to this lease, so GC cannot remove them early. */
  lease?: string;
  /** Milliseconds before the call fails with DEADLINE_EXCEEDED. */
  timeoutMs?: number;
}

// Method definitions carry the serializers; grpc-js uses `any` in their generic defaults.
type AnyMethod = MethodDefinition<object, object>;

/**
 * One gRPC channel to containerd over its unix socket. Every call carries the namespace header
 * (and the lease header when asked), as containerd's own client does.
 */
export class GrpcConnection {
  private readonly client: GrpcClient;

  constructor(
    readonly address: string,
    readonly namespace: string,
  ) {
    const target = address.includes("://") ? address : `unix://${address}`;
    this.client = new GrpcClient(target, credentials.createInsecure(), {
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
      "grpc.max_send_message_length": 64 * 1024 * 1024,
    });
  }

  private method(service: string, name: string): AnyMethod {
    const definition = packageDefinition()[service] as Record<string, AnyMethod> | undefined;
    const method = definition?.[name];
    if (!method) throw new Error(`containerd method ${service}/${name} is not in proto/`);
    return method;
  }

  private metadata(context: RequestContext): Metadata {
    const metadata = new Metadata();
    metadata.set("containerd-namespace", this.namespace);
    if (context.lease) metadata.set("containerd-lease", context.lease);
    return metadata;
  }

  private options(context: RequestContext): CallOptions {
    return context.timeoutMs === undefined ? {} : { deadline: Date.now() + context.timeoutMs };
  }

  unary<Res>(
    service: string,
    name: string,
    request: object,
    context: RequestContext = {},
  ): Promise<Res> {
    const method = this.method(service, name);
    return new Promise<Res>((resolve, reject) => {
      this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        this.metadata(context),
        this.options(context),
        (error, response) => (error ? reject(error) : resolve(response as Res)),
      );
    });
  }

  /** A server-streaming call, collected into an array. */
  async serverStream<Res>(
    service: string,
    name: string,
    request: object,
    context: RequestContext = {},
  ): Promise<Res[]> {
    const method = this.method(service, name);
    const stream: ClientReadableStream<object> = this.client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      this.metadata(context),
      this.options(context),
    );
    const out: Res[] = [];
    for await (const message of stream) out.push(message as Res);
    return out;
  }

  bidiStream<Req, Res>(
    service: string,
    name: string,
    context: RequestContext = {},
  ): ClientDuplexStream<Req, Res> {
    const method = this.method(service, name);
    return this.client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      this.metadata(context),
      this.options(context),
    ) as unknown as ClientDuplexStream<Req, Res>;
  }

  close(): void {
    this.client.close();
  }
}
