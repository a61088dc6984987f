// Original file: proto/recipes/v1/recipes.proto


export interface Ingredient {
  'name'?: (string);
  'quantity'?: (number | string);
  'unit'?: (string);
}

export interface Ingredient__Output {
  'name': (string);
  'quantity': (number);
  'unit': (string);
}
