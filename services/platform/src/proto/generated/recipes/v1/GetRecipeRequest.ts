// Original file: proto/recipes/v1/recipes.proto

import type { Long } from '@grpc/proto-loader';

export interface GetRecipeRequest {
  'id'?: (number | string | Long);
}

export interface GetRecipeRequest__Output {
  'id': (string);
}
