// Original file: proto/recipes/v1/recipes.proto

import type { Long } from '@grpc/proto-loader';

export interface ListRecipesRequest {
  'cuisine'?: (string);
  'limit'?: (number);
  'afterId'?: (number | string | Long);
}

export interface ListRecipesRequest__Output {
  'cuisine': (string);
  'limit': (number);
  'afterId': (string);
}
