import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { healthServiceDescriptor } from '../src/grpc/health-service.js';
import { addReflection, reflectionServiceDefinitions } from '../src/grpc/reflection-service.js';
import { recipeServiceDescriptor } from '../src/proto/recipes.js';
import { startGrpcServer } from './helpers/grpc-server.js';

// grpcurl exercises v1 end to end (services/recipe-api/test/grpc-reflection.test.ts); both versions
// are asked the same here, the way a client of either speaks.
for (const [version, definition] of Object.entries(reflectionServiceDefinitions)) {
  const Client = grpc.makeGenericClientConstructor(definition, 'ServerReflection');

  async function ask(t: TestContext, requests: object[]) {
    const address = await startGrpcServer(t, (server) =>
      addReflection(server, [recipeServiceDescriptor, healthServiceDescriptor]),
    );
    const client = new Client(address, grpc.credentials.createInsecure());
    t.after(() => client.close());
    const call = (
      client as unknown as { serverReflectionInfo(): grpc.ClientDuplexStream<object, object> }
    ).serverReflectionInfo();
    const answers: Record<string, unknown>[] = [];
    call.on('data', (answer: Record<string, unknown>) => answers.push(answer));
    for (const request of requests) call.write(request);
    call.end();
    await once(call, 'end');
    return answers;
  }

  const fileNames = (answer: Record<string, unknown>) =>
    (answer.fileDescriptorResponse as { fileDescriptorProto: string[] }).fileDescriptorProto.map(
      (encoded) => fromBinary(FileDescriptorProtoSchema, Buffer.from(encoded, 'base64')).name,
    );

  test(`${version}: lists the services and serves the files that define a symbol or a file name`, async (t) => {
    const answers = await ask(t, [
      { listServices: '' },
      { fileContainingSymbol: 'recipes.v1.RecipeService' },
      { fileContainingSymbol: 'recipes.v1.RecipeService.GetRecipe' },
      { fileContainingSymbol: 'grpc.health.v1.HealthCheckResponse.ServingStatus' },
      { fileByFilename: 'grpc/health/v1/health.proto' },
      { allExtensionNumbersOfType: 'recipes.v1.Recipe' },
    ]);
    assert.equal(answers.length, 6);
    assert.deepEqual(answers[0]!.listServicesResponse, {
      service: [{ name: 'recipes.v1.RecipeService' }, { name: 'grpc.health.v1.Health' }],
    });
    assert.deepEqual(fileNames(answers[1]!), ['recipes/v1/recipes.proto']);
    assert.deepEqual(fileNames(answers[2]!), ['recipes/v1/recipes.proto']);
    assert.deepEqual(fileNames(answers[3]!), ['grpc/health/v1/health.proto']);
    assert.deepEqual(fileNames(answers[4]!), ['grpc/health/v1/health.proto']);
    assert.deepEqual(answers[5]!.allExtensionNumbersResponse, {
      baseTypeName: 'recipes.v1.Recipe',
      extensionNumber: [],
    });
    // The descriptor keeps the file as written: the contract's own field names.
    const recipes = fromBinary(
      FileDescriptorProtoSchema,
      Buffer.from(
        (answers[1]!.fileDescriptorResponse as { fileDescriptorProto: string[] }).fileDescriptorProto[0]!,
        'base64',
      ),
    );
    const response = recipes.messageType.find((m) => m.name === 'GetRecipeResponse');
    assert.deepEqual(
      response?.field.map((f) => f.name),
      ['recipe', 'user_view', 'producer_pid'],
    );
  });

  test(`${version}: an unknown symbol or file is a NOT_FOUND error response, the stream goes on`, async (t) => {
    const answers = await ask(t, [
      { fileContainingSymbol: 'recipes.v1.Nothing' },
      { fileByFilename: 'nothing.proto' },
      { host: 'h', listServices: '' },
    ]);
    assert.equal(answers.length, 3);
    for (const answer of answers.slice(0, 2))
      assert.equal((answer.errorResponse as { errorCode: number }).errorCode, grpc.status.NOT_FOUND);
    assert.equal(answers[2]!.validHost, 'h');
    assert.deepEqual(answers[2]!.originalRequest, { host: 'h', listServices: '' });
  });
}
