import * as grpc from '@grpc/grpc-js';
import { createRegistry, type DescFile, type DescService, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import {
  ServerReflection,
  type ServerReflectionRequestSchema,
  type ServerReflectionResponseSchema,
} from '../proto/generated/grpc/reflection/v1/reflection_pb.js';
import { type Json, type ServiceHandlers, serviceDefinition } from './service-definition.js';

type Request = Json<typeof ServerReflectionRequestSchema>;
type Response = Json<typeof ServerReflectionResponseSchema>;

/** Every file `services` are defined in, with the files those import, by file name. */
function filesOf(services: DescService[]): Map<string, DescFile> {
  const files = new Map<string, DescFile>();
  const add = (file: DescFile) => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    file.dependencies.forEach(add);
  };
  for (const service of services) add(service.file);
  return files;
}

/** A file and what it imports, transitively, as serialized FileDescriptorProtos in JSON's base64. */
function descriptorsOf(file: DescFile): string[] {
  const seen = new Set<DescFile>();
  const visit = (f: DescFile) => {
    if (seen.has(f)) return;
    seen.add(f);
    f.dependencies.forEach(visit);
  };
  visit(file);
  return [...seen].map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)).toString('base64'));
}

/** One answer per ServerReflectionRequest, from the descriptors protoc-gen-es embedded in the generated code. */
export function reflectionAnswers(services: DescService[]): (request: Request) => Response {
  const files = filesOf(services);
  const registry = createRegistry(...files.values());
  const extensions = [...registry].flatMap((d) => (d.kind === 'extension' ? [d] : []));

  // A type by its full name, or a method or field by its parent's full name and its own.
  const fileOfSymbol = (symbol: string): DescFile | undefined => {
    const found = registry.get(symbol);
    if (found) return found.file;
    const dot = symbol.lastIndexOf('.');
    const parent = registry.get(symbol.slice(0, dot));
    const member = symbol.slice(dot + 1);
    if (parent?.kind === 'service' && parent.methods.some((m) => m.name === member)) return parent.file;
    if (parent?.kind === 'message' && parent.fields.some((f) => f.name === member)) return parent.file;
    return undefined;
  };

  return (request) => {
    const base = { validHost: request.host ?? '', originalRequest: request };
    const fileAnswer = (file: DescFile | undefined, what: string): Response =>
      file
        ? { ...base, fileDescriptorResponse: { fileDescriptorProto: descriptorsOf(file) } }
        : { ...base, errorResponse: { errorCode: grpc.status.NOT_FOUND, errorMessage: `${what} not found` } };

    if (request.listServices !== undefined)
      return { ...base, listServicesResponse: { service: services.map((s) => ({ name: s.typeName })) } };
    if (request.fileByFilename !== undefined)
      return fileAnswer(files.get(request.fileByFilename), `file ${request.fileByFilename}`);
    if (request.fileContainingSymbol !== undefined)
      return fileAnswer(fileOfSymbol(request.fileContainingSymbol), `symbol ${request.fileContainingSymbol}`);
    if (request.fileContainingExtension !== undefined) {
      const { containingType, extensionNumber } = request.fileContainingExtension;
      const extension = extensions.find((e) => e.extendee.typeName === containingType && e.number === extensionNumber);
      return fileAnswer(extension?.file, `extension ${extensionNumber} of ${containingType}`);
    }
    if (request.allExtensionNumbersOfType !== undefined) {
      const message = registry.getMessage(request.allExtensionNumbersOfType);
      if (!message) return fileAnswer(undefined, `type ${request.allExtensionNumbersOfType}`);
      const numbers = extensions.filter((e) => e.extendee === message).map((e) => e.number);
      return { ...base, allExtensionNumbersResponse: { baseTypeName: message.typeName, extensionNumber: numbers } };
    }
    return {
      ...base,
      errorResponse: { errorCode: grpc.status.INVALID_ARGUMENT, errorMessage: 'no message_request set' },
    };
  };
}

const v1 = serviceDefinition(ServerReflection);

/**
 * The reflection service under both its packages. grpc.reflection.v1alpha is the same protocol
 * with the same messages and field numbers (grpc/grpc-proto grpc/reflection/v1alpha/reflection.proto),
 * only its path differs: grpcurl asks v1 first and falls back to v1alpha, older tools ask v1alpha.
 */
export const reflectionServiceDefinitions: Record<'v1' | 'v1alpha', grpc.ServiceDefinition> = {
  v1,
  v1alpha: Object.fromEntries(
    Object.entries(v1).map(([name, method]) => [
      name,
      { ...method, path: method.path.replace('/grpc.reflection.v1.', '/grpc.reflection.v1alpha.') },
    ]),
  ),
};

/**
 * gRPC server reflection (proto/grpc/reflection/v1/reflection.proto; grpc/grpc
 * doc/server-reflection.md) describing `served`, as @grpc/reflection did before with protobufjs.
 */
export function addReflection(server: grpc.Server, served: DescService[]): void {
  const answer = reflectionAnswers(served);
  const handlers: ServiceHandlers<typeof ServerReflection> = {
    ServerReflectionInfo: (call) => {
      call.on('data', (request: Request) => call.write(answer(request)));
      call.on('end', () => call.end());
    },
  };
  for (const definition of Object.values(reflectionServiceDefinitions)) server.addService(definition, handlers);
}
